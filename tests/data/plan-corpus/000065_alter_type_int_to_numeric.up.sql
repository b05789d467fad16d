-- case: alter_type_int_to_numeric
-- int to numeric: every value is converted, the table rewritten (old values still fit).
-- expect c67: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c67 (id, v) VALUES (-1, 1)
ALTER TABLE c67 ALTER COLUMN v TYPE numeric;
