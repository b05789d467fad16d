-- case: add_column_with_check
-- The new CHECK constraint is validated by a full scan, although the new column is all NULL.
-- expect c13: lock=ACCESS_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c13 (id, v) VALUES (-1, 0)
ALTER TABLE c13 ADD COLUMN q int CHECK (q > 0);
