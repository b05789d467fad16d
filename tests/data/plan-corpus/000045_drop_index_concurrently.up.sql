-- schemagate:no-transaction
-- case: drop_index_concurrently
-- CONCURRENTLY: SHARE UPDATE EXCLUSIVE on the table.
-- expect c45: lock=SHARE_UPDATE_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c45 (id, v) VALUES (-1, 0)
DROP INDEX CONCURRENTLY c45_v_idx;
