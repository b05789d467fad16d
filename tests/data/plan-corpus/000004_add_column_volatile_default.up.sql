-- case: add_column_volatile_default
-- A volatile default is evaluated for every row: the table is rewritten.
-- expect c04: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c04 (id, v) VALUES (-1, 0)
ALTER TABLE c04 ADD COLUMN r float8 DEFAULT random();
