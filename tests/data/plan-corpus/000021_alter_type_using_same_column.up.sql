-- case: alter_type_using_same_column
-- A USING clause that is the column itself, to the same type: nothing to do.
-- expect c21: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c21 (id, v) VALUES (-1, 0)
ALTER TABLE c21 ALTER COLUMN v TYPE int USING v;
