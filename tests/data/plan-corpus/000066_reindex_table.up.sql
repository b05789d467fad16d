-- case: reindex_table
-- REINDEX holds SHARE on the table while it rebuilds its indexes from a scan.
-- expect c68: lock=SHARE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c68 (id, v) VALUES (-1, 0)
REINDEX TABLE c68;
