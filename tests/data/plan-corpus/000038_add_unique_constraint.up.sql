-- case: add_unique_constraint
-- ADD CONSTRAINT UNIQUE builds its index under ACCESS EXCLUSIVE.
-- expect c38: lock=ACCESS_EXCLUSIVE rewrite=no scan=yes
-- expect: breaking=no verdict=refused
-- old: INSERT INTO c38 (id, k) VALUES (-1, -1)
ALTER TABLE c38 ADD CONSTRAINT c38_k_key UNIQUE (k);
