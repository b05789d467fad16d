-- case: set_unlogged
-- Changing persistence rewrites the table.
-- expect c55: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c55 (id, v) VALUES (-1, 0)
ALTER TABLE c55 SET UNLOGGED;
