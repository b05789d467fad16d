-- case: set_not_null_with_valid_check
-- A validated CHECK (v IS NOT NULL) proves it: no scan (PostgreSQL 12+).
-- expect c25: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c25 (id, v) VALUES (-1, 0)
ALTER TABLE c25 ALTER COLUMN v SET NOT NULL;
