-- case: drop_default_of_required_column
-- z (added by the previous case, unknown to the previous release) is now NOT NULL without a
-- default: the previous release's INSERTs leave it out and fail.
-- expect c11: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=yes verdict=refused
-- old: INSERT INTO c11 (id, v) VALUES (-2, 0)
ALTER TABLE c11 ALTER COLUMN z DROP DEFAULT;
