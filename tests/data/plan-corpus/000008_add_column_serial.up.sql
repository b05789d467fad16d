-- case: add_column_serial
-- serial is a nextval() default, volatile: the table is rewritten.
-- expect c08: lock=ACCESS_EXCLUSIVE rewrite=yes scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c08 (id) VALUES (-1)
ALTER TABLE c08 ADD COLUMN s serial;
