-- case: drop_column
-- Dropping a column is instant, but the previous release still reads it.
-- expect c40: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=yes verdict=refused
-- old: SELECT legacy FROM c40 LIMIT 1
ALTER TABLE c40 DROP COLUMN legacy;
