-- case: cluster
-- CLUSTER rewrites the table in index order under ACCESS EXCLUSIVE.
-- expect c56: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c56 (id, v) VALUES (-1, 0)
CLUSTER c56 USING c56_pkey;
