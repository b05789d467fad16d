-- case: add_foreign_key_not_valid
-- NOT VALID: no check of existing rows, the locks are brief.
-- expect c31: lock=SHARE_ROW_EXCLUSIVE rewrite=no scan=no
-- expect c31p: lock=SHARE_ROW_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c31 (id, pid) VALUES (-1, 1)
ALTER TABLE c31 ADD CONSTRAINT c31_fk FOREIGN KEY (pid) REFERENCES c31p (id) NOT VALID;
