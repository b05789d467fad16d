-- case: set_statistics
-- A planner setting: SHARE UPDATE EXCLUSIVE.
-- expect c66: lock=SHARE_UPDATE_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c66 (id, v) VALUES (-1, 0)
ALTER TABLE c66 ALTER COLUMN v SET STATISTICS 500;
