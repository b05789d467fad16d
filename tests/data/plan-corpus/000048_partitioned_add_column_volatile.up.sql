-- case: partitioned_add_column_volatile
-- The partitioned table has no storage of its own; each partition is rewritten.
-- expect c48: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect c48_a: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect c48_b: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c48 (id, v) VALUES (1500, 0)
ALTER TABLE c48 ADD COLUMN r float8 DEFAULT random();
