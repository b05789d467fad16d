-- case: add_column_with_foreign_key
-- The new column is all NULL, so PostgreSQL skips the validation scan: ACCESS EXCLUSIVE on the
-- child (ADD COLUMN) and SHARE ROW EXCLUSIVE on the parent, both brief.
-- expect c61: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect c61p: lock=SHARE_ROW_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c61 (id, v) VALUES (-1, 0)
ALTER TABLE c61 ADD COLUMN pid int REFERENCES c61p (id);
