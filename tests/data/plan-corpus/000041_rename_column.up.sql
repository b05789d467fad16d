-- case: rename_column
-- The previous release still uses the old name.
-- expect c41: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=yes verdict=refused
-- old: SELECT name FROM c41 LIMIT 1
ALTER TABLE c41 RENAME COLUMN name TO title;
