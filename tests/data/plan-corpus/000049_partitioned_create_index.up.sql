-- case: partitioned_create_index
-- An index on a partitioned table builds one per partition, each under SHARE with a scan.
-- expect c49: lock=SHARE rewrite=no scan=no
-- expect c49_a: lock=SHARE rewrite=no scan=yes
-- expect c49_b: lock=SHARE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c49 (id, v) VALUES (1500, 0)
CREATE INDEX c49_v_idx ON c49 (v);
