-- case: create_index
-- CREATE INDEX holds SHARE (writes wait) while it scans the table.
-- expect c33: lock=SHARE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c33 (id, v) VALUES (-1, 0)
CREATE INDEX c33_v_idx ON c33 (v);
