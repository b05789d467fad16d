-- case: drop_not_null
-- Allowing NULL needs no check.
-- expect c53: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c53 (id, v) VALUES (-1, 0)
ALTER TABLE c53 ALTER COLUMN v DROP NOT NULL;
