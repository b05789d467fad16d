-- case: create_unique_index
-- A unique index: SHARE and a scan, like any index.
-- expect c37: lock=SHARE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c37 (id, k) VALUES (-1, -1)
CREATE UNIQUE INDEX c37_k_idx ON c37 (k);
