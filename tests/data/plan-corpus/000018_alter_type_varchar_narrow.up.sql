-- case: alter_type_varchar_narrow
-- A shorter limit needs every value checked and copied: rewritten; 30-character names no
-- longer fit.
-- expect c18: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=yes verdict=refused
-- old: INSERT INTO c18 (id, name) VALUES (-1, repeat('x', 30))
ALTER TABLE c18 ALTER COLUMN name TYPE varchar(20);
