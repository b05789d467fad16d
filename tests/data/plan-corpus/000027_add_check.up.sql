-- case: add_check
-- A new CHECK is validated by a full scan under ACCESS EXCLUSIVE.
-- expect c27: lock=ACCESS_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c27 (id, v) VALUES (-1, 1)
ALTER TABLE c27 ADD CONSTRAINT c27_v_pos CHECK (v > 0);
