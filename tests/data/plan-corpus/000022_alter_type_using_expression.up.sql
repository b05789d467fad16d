-- case: alter_type_using_expression
-- The same type, but a USING expression: every row is recomputed and the table rewritten.
-- expect c22: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c22 (id, v) VALUES (-1, 0)
ALTER TABLE c22 ALTER COLUMN v TYPE int USING v + 0;
