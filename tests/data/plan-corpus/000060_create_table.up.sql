-- case: create_table
-- A new table touches nothing the previous release uses.
-- expect: breaking=no verdict=ok
CREATE TABLE c62 (id int PRIMARY KEY);
