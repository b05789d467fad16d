-- case: set_fillfactor
-- A storage parameter: SHARE UPDATE EXCLUSIVE, applies to new pages only.
-- expect c54: lock=SHARE_UPDATE_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c54 (id, v) VALUES (-1, 0)
ALTER TABLE c54 SET (fillfactor = 70);
