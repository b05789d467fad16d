-- case: add_column_identity
-- An identity column fills every row from its sequence: the table is rewritten.
-- expect c09: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c09 (id) VALUES (-1)
ALTER TABLE c09 ADD COLUMN i bigint GENERATED ALWAYS AS IDENTITY;
