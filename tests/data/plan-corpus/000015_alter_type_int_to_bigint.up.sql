-- case: alter_type_int_to_bigint
-- int and bigint are stored differently: the table is rewritten (old values still fit).
-- expect c15: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c15 (id, v) VALUES (-1, 1)
-- old: SELECT v + 1 FROM c15 WHERE id = 1
ALTER TABLE c15 ALTER COLUMN v TYPE bigint;
