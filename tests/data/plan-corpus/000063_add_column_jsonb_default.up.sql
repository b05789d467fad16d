-- case: add_column_jsonb_default
-- A constant jsonb default: catalog only.
-- expect c65: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c65 (id, v) VALUES (-1, 0)
ALTER TABLE c65 ADD COLUMN meta jsonb DEFAULT '{}';
