-- case: alter_type_text_to_int
-- text to int: rewritten, and text values the previous release writes are refused.
-- expect c23: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=yes verdict=refused
-- old: INSERT INTO c23 (id, code) VALUES (-1, 'abc')
ALTER TABLE c23 ALTER COLUMN code TYPE int USING code::int;
