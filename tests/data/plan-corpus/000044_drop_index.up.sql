-- case: drop_index
-- DROP INDEX locks the table ACCESS EXCLUSIVE, briefly: nothing is scanned or rewritten.
-- expect c44: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c44 (id, v) VALUES (-1, 0)
DROP INDEX c44_v_idx;
