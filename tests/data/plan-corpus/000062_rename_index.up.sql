-- case: rename_index
-- Renaming an index locks the index only (SHARE UPDATE EXCLUSIVE), not its table.
-- expect c64: lock=NONE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c64 (id, v) VALUES (-1, 0)
ALTER INDEX c64_v_idx RENAME TO c64_v_idx2;
