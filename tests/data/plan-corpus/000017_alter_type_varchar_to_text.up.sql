-- case: alter_type_varchar_to_text
-- varchar to text is binary-coercible: no rewrite.
-- expect c17: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c17 (id, name) VALUES (-1, 'abc')
ALTER TABLE c17 ALTER COLUMN name TYPE text;
