-- case: add_column_uuid_default
-- gen_random_uuid() is volatile: the table is rewritten.
-- expect c07: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c07 (id) VALUES (-1)
ALTER TABLE c07 ADD COLUMN u uuid DEFAULT gen_random_uuid();
