-- case: partitioned_add_column_constant
-- Every partition is locked, none rewritten: the default is in the catalog.
-- expect c47: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect c47_a: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c47 (id, v) VALUES (1500, 0)
ALTER TABLE c47 ADD COLUMN flag int DEFAULT 0;
