-- case: add_column_constant_default
-- A constant default is stored in the catalog (PostgreSQL 11+): no rewrite.
-- expect c03: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c03 (id, v) VALUES (-1, 0)
ALTER TABLE c03 ADD COLUMN flag int DEFAULT 1;
