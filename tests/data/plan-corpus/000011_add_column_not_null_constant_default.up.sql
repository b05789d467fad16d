-- case: add_column_not_null_constant_default
-- NOT NULL with a constant default: stored in the catalog, no rewrite and no scan.
-- expect c11: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c11 (id, v) VALUES (-1, 0)
ALTER TABLE c11 ADD COLUMN z int NOT NULL DEFAULT 0;
