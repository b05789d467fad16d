-- case: create_index_expression
-- An index on an expression: the same SHARE lock and scan.
-- expect c34: lock=SHARE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c34 (id, name) VALUES (-1, 'x')
CREATE INDEX c34_lower_idx ON c34 (lower(name));
