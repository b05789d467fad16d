-- case: add_column_nullable
-- A nullable column without a default: a catalog change only.
-- expect c02: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c02 (id, v) VALUES (-1, 0)
-- old: SELECT id, v FROM c02 LIMIT 1
ALTER TABLE c02 ADD COLUMN note text;
