-- case: set_not_null
-- SET NOT NULL scans the whole table under ACCESS EXCLUSIVE to prove it.
-- expect c24: lock=ACCESS_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c24 (id, v) VALUES (-1, 0)
ALTER TABLE c24 ALTER COLUMN v SET NOT NULL;
