-- case: add_column_unique
-- UNIQUE builds an index: a full scan under ACCESS EXCLUSIVE.
-- expect c14: lock=ACCESS_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c14 (id, v) VALUES (-1, 0)
ALTER TABLE c14 ADD COLUMN k int UNIQUE;
