-- case: validate_check
-- VALIDATE scans under SHARE UPDATE EXCLUSIVE: reads and writes go on.
-- expect c29: lock=SHARE_UPDATE_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c29 (id, v) VALUES (-1, 1)
ALTER TABLE c29 VALIDATE CONSTRAINT c29_v_pos;
