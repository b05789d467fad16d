-- case: add_foreign_key
-- Both tables are locked against writes while the child is checked against the parent.
-- expect c30: lock=SHARE_ROW_EXCLUSIVE rewrite=no scan=yes
-- expect c30p: lock=SHARE_ROW_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c30 (id, pid) VALUES (-1, 1)
ALTER TABLE c30 ADD CONSTRAINT c30_fk FOREIGN KEY (pid) REFERENCES c30p (id);
