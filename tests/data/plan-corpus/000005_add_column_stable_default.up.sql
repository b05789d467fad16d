-- case: add_column_stable_default
-- now() is STABLE, not volatile: evaluated once and stored in the catalog, no rewrite.
-- expect c05: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c05 (id, v) VALUES (-1, 0)
ALTER TABLE c05 ADD COLUMN created_at timestamptz DEFAULT now();
