-- case: drop_table
-- The previous release still reads it.
-- expect c43: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=yes verdict=refused
-- old: SELECT count(*) FROM c43
DROP TABLE c43;
