-- case: enum_add_value
-- A new enum label locks the type, not the tables that use it.
-- expect c46: lock=NONE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c46 (id, m) VALUES (-1, 'happy')
ALTER TYPE c46_mood ADD VALUE 'sad';
