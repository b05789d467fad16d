-- case: set_not_null_with_not_valid_check
-- A NOT VALID check proves nothing: the table is scanned.
-- expect c26: lock=ACCESS_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c26 (id, v) VALUES (-1, 0)
ALTER TABLE c26 ALTER COLUMN v SET NOT NULL;
