-- case: alter_type_numeric_scale
-- A larger scale with the same precision rewrites every value and leaves fewer integer digits.
-- expect c20: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=yes verdict=refused
-- old: INSERT INTO c20 (id, amount) VALUES (-1, 12345678.12)
ALTER TABLE c20 ALTER COLUMN amount TYPE numeric(10, 4);
