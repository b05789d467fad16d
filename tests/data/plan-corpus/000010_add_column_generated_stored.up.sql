-- case: add_column_generated_stored
-- A stored generated column is computed for every row: the table is rewritten.
-- expect c10: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c10 (id, v) VALUES (-1, 0)
ALTER TABLE c10 ADD COLUMN d int GENERATED ALWAYS AS (v * 2) STORED;
