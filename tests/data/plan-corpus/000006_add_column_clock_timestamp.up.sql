-- case: add_column_clock_timestamp
-- clock_timestamp() is volatile, unlike now(): the table is rewritten.
-- expect c06: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c06 (id) VALUES (-1)
ALTER TABLE c06 ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp();
