-- case: attach_partition
-- ATTACH PARTITION scans the new partition, under ACCESS EXCLUSIVE, to check its bound.
-- expect c50: lock=SHARE_UPDATE_EXCLUSIVE rewrite=no scan=no
-- expect c50_b: lock=ACCESS_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c50 (id, v) VALUES (1, 0)
-- old: INSERT INTO c50_b (id, v) VALUES (1500, 0)
ALTER TABLE c50 ATTACH PARTITION c50_b FOR VALUES FROM (1001) TO (2001);
