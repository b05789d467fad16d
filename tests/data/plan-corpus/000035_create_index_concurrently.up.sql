-- schemagate:no-transaction
-- case: create_index_concurrently
-- CONCURRENTLY: SHARE UPDATE EXCLUSIVE, writes go on during its scans.
-- expect c35: lock=SHARE_UPDATE_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c35 (id, v) VALUES (-1, 0)
CREATE INDEX CONCURRENTLY c35_v_idx ON c35 (v);
