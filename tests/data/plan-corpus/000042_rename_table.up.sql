-- case: rename_table
-- The previous release still uses the old name.
-- expect c42: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=yes verdict=refused
-- old: SELECT count(*) FROM c42
ALTER TABLE c42 RENAME TO c42_renamed;
