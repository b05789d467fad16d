-- case: add_check_not_valid
-- NOT VALID: existing rows are not checked, no scan.
-- expect c28: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c28 (id, v) VALUES (-1, 1)
ALTER TABLE c28 ADD CONSTRAINT c28_v_pos CHECK (v > 0) NOT VALID;
