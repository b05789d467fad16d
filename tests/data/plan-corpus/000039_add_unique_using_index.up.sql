-- case: add_unique_using_index
-- USING INDEX adopts an index built earlier (concurrently, say): no scan.
-- expect c39: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c39 (id, k) VALUES (-1, -1)
ALTER TABLE c39 ADD CONSTRAINT c39_k_key UNIQUE USING INDEX c39_k_idx;
