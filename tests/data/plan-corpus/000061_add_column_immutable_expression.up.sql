-- case: add_column_immutable_expression
-- upper() of a constant is folded to a constant: no rewrite.
-- expect c63: lock=ACCESS_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c63 (id, v) VALUES (-1, 0)
ALTER TABLE c63 ADD COLUMN label text DEFAULT upper('x');
