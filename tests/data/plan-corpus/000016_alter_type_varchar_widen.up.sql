-- case: alter_type_varchar_widen
-- A longer varchar limit is binary-coercible: no rewrite and no scan.
-- expect c16: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c16 (id, name) VALUES (-1, 'abc')
ALTER TABLE c16 ALTER COLUMN name TYPE varchar(50);
