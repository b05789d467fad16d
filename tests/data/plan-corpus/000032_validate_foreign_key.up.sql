-- case: validate_foreign_key
-- VALIDATE takes SHARE UPDATE EXCLUSIVE on the child (ROW SHARE on the parent): writes go on.
-- expect c32: lock=SHARE_UPDATE_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c32 (id, pid) VALUES (-1, 1)
ALTER TABLE c32 VALIDATE CONSTRAINT c32_fk;
