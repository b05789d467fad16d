-- case: comment_on_table
-- A comment: SHARE UPDATE EXCLUSIVE, nothing else.
-- expect c69: lock=SHARE_UPDATE_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c69 (id, v) VALUES (-1, 0)
COMMENT ON TABLE c69 IS 'orders';
