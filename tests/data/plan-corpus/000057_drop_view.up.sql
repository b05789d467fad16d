-- case: drop_view
-- The previous release still reads the view.
-- expect c58_v: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=yes verdict=refused
-- old: SELECT count(*) FROM c58_v
DROP VIEW c58_v;
