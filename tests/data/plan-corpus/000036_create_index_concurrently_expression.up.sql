-- schemagate:no-transaction
-- case: create_index_concurrently_expression
-- An index on an expression, built concurrently.
-- expect c36: lock=SHARE_UPDATE_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c36 (id, name) VALUES (-1, 'x')
CREATE INDEX CONCURRENTLY c36_lower_idx ON c36 (lower(name));
