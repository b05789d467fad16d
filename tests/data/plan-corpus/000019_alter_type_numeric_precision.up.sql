-- case: alter_type_numeric_precision
-- More precision with the same scale is binary-coercible: no rewrite.
-- expect c19: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c19 (id, amount) VALUES (-1, 12345678.12)
ALTER TABLE c19 ALTER COLUMN amount TYPE numeric(12, 2);
