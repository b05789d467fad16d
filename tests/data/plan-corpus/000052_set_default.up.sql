-- case: set_default
-- A default for future rows: catalog only.
-- expect c52: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c52 (id, v) VALUES (-1, 0)
ALTER TABLE c52 ALTER COLUMN v SET DEFAULT 5;
