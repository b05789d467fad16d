-- case: attach_partition_with_check
-- A validated CHECK matching the bound (and NOT NULL) proves it: no scan.
-- expect c51: lock=SHARE_UPDATE_EXCLUSIVE rewrite=no scan=no
-- expect c51_b: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c51 (id, v) VALUES (1, 0)
-- old: INSERT INTO c51_b (id, v) VALUES (1500, 0)
ALTER TABLE c51 ATTACH PARTITION c51_b FOR VALUES FROM (1001) TO (2001);
