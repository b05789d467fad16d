-- The tables of the plan corpus (tests/integration/test_dryrun.c, bench/plan-corpus.sh): one
-- table (or a few) per case, each holding rows. Every later file is one case: one statement,
-- with what PostgreSQL 15 does with it written in its leading comment block (see README.md).
CREATE TABLE c02 (id int PRIMARY KEY, v int);
CREATE TABLE c03 (id int PRIMARY KEY, v int);
CREATE TABLE c04 (id int PRIMARY KEY, v int);
CREATE TABLE c05 (id int PRIMARY KEY, v int);
CREATE TABLE c06 (id int PRIMARY KEY, v int);
CREATE TABLE c07 (id int PRIMARY KEY, v int);
CREATE TABLE c08 (id int PRIMARY KEY, v int);
CREATE TABLE c09 (id int PRIMARY KEY, v int);
CREATE TABLE c10 (id int PRIMARY KEY, v int);
CREATE TABLE c11 (id int PRIMARY KEY, v int);
CREATE TABLE c13 (id int PRIMARY KEY, v int);
CREATE TABLE c14 (id int PRIMARY KEY, v int);
CREATE TABLE c15 (id int PRIMARY KEY, v int);
CREATE TABLE c16 (id int PRIMARY KEY, name varchar(10));
CREATE TABLE c17 (id int PRIMARY KEY, name varchar(50));
CREATE TABLE c18 (id int PRIMARY KEY, name varchar(50));
CREATE TABLE c19 (id int PRIMARY KEY, amount numeric(10, 2));
CREATE TABLE c20 (id int PRIMARY KEY, amount numeric(10, 2));
CREATE TABLE c21 (id int PRIMARY KEY, v int);
CREATE TABLE c22 (id int PRIMARY KEY, v int);
CREATE TABLE c23 (id int PRIMARY KEY, code text);
CREATE TABLE c24 (id int PRIMARY KEY, v int);
CREATE TABLE c25 (id int PRIMARY KEY, v int, CONSTRAINT c25_v_nn CHECK (v IS NOT NULL));
CREATE TABLE c26 (id int PRIMARY KEY, v int);
CREATE TABLE c27 (id int PRIMARY KEY, v int);
CREATE TABLE c28 (id int PRIMARY KEY, v int);
CREATE TABLE c29 (id int PRIMARY KEY, v int);
CREATE TABLE c30p (id int PRIMARY KEY);
CREATE TABLE c30 (id int PRIMARY KEY, pid int);
CREATE TABLE c31p (id int PRIMARY KEY);
CREATE TABLE c31 (id int PRIMARY KEY, pid int);
CREATE TABLE c32p (id int PRIMARY KEY);
CREATE TABLE c32 (id int PRIMARY KEY, pid int);
CREATE TABLE c33 (id int PRIMARY KEY, v int);
CREATE TABLE c34 (id int PRIMARY KEY, name text);
CREATE TABLE c35 (id int PRIMARY KEY, v int);
CREATE TABLE c36 (id int PRIMARY KEY, name text);
CREATE TABLE c37 (id int PRIMARY KEY, k int);
CREATE TABLE c38 (id int PRIMARY KEY, k int);
CREATE TABLE c39 (id int PRIMARY KEY, k int);
CREATE TABLE c40 (id int PRIMARY KEY, legacy text);
CREATE TABLE c41 (id int PRIMARY KEY, name text);
CREATE TABLE c42 (id int PRIMARY KEY, v int);
CREATE TABLE c43 (id int PRIMARY KEY, v int);
CREATE TABLE c44 (id int PRIMARY KEY, v int);
CREATE TABLE c45 (id int PRIMARY KEY, v int);
CREATE TYPE c46_mood AS ENUM ('happy', 'ok');
CREATE TABLE c46 (id int PRIMARY KEY, m c46_mood);
CREATE TABLE c47 (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE c47_a PARTITION OF c47 FOR VALUES FROM (1) TO (1001);
CREATE TABLE c47_b PARTITION OF c47 FOR VALUES FROM (1001) TO (2001);
CREATE TABLE c48 (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE c48_a PARTITION OF c48 FOR VALUES FROM (1) TO (1001);
CREATE TABLE c48_b PARTITION OF c48 FOR VALUES FROM (1001) TO (2001);
CREATE TABLE c49 (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE c49_a PARTITION OF c49 FOR VALUES FROM (1) TO (1001);
CREATE TABLE c49_b PARTITION OF c49 FOR VALUES FROM (1001) TO (2001);
CREATE TABLE c50 (id int NOT NULL, v int) PARTITION BY RANGE (id);
CREATE TABLE c50_a PARTITION OF c50 FOR VALUES FROM (1) TO (1001);
CREATE TABLE c50_b (id int NOT NULL, v int);
CREATE TABLE c51 (id int NOT NULL, v int) PARTITION BY RANGE (id);
CREATE TABLE c51_a PARTITION OF c51 FOR VALUES FROM (1) TO (1001);
CREATE TABLE c51_b (id int NOT NULL, v int, CONSTRAINT c51_b_range CHECK (id >= 1001 AND id < 2001));
CREATE TABLE c52 (id int PRIMARY KEY, v int);
CREATE TABLE c53 (id int PRIMARY KEY, v int NOT NULL);
CREATE TABLE c54 (id int PRIMARY KEY, v int);
CREATE TABLE c55 (id int PRIMARY KEY, v int);
CREATE TABLE c56 (id int PRIMARY KEY, v int);
CREATE TABLE c58 (id int PRIMARY KEY, v int);
CREATE VIEW c58_v AS SELECT id, v FROM c58;
CREATE FUNCTION c59_f() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE TABLE c61p (id int PRIMARY KEY);
CREATE TABLE c61 (id int PRIMARY KEY, v int);
CREATE TABLE c63 (id int PRIMARY KEY, v int);
CREATE TABLE c64 (id int PRIMARY KEY, v int);
CREATE TABLE c65 (id int PRIMARY KEY, v int);
CREATE TABLE c66 (id int PRIMARY KEY, v int);
CREATE TABLE c67 (id int PRIMARY KEY, v int);
CREATE TABLE c68 (id int PRIMARY KEY, v int);
CREATE TABLE c69 (id int PRIMARY KEY, v int);
CREATE TABLE c70 (id int PRIMARY KEY, v int);
CREATE FUNCTION c70_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;

-- 2,000 rows in every table (1,000 in each partition).
DO $$
DECLARE
	t regclass;
BEGIN
	FOR t IN SELECT c.oid::regclass FROM pg_class c
	         JOIN pg_namespace n ON n.oid = c.relnamespace
	         WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT c.relispartition
	         AND c.relname ~ '^c[0-9]+[a-z]?$' AND c.relname NOT IN ('c25', 'c53')
	LOOP
		EXECUTE format('INSERT INTO %s (id) SELECT g FROM generate_series(1, 2000) g', t);
	END LOOP;
END $$;
INSERT INTO c25 (id, v) SELECT g, g FROM generate_series(1, 2000) g;
INSERT INTO c53 (id, v) SELECT g, g FROM generate_series(1, 2000) g;
UPDATE c02 SET v = id; UPDATE c03 SET v = id; UPDATE c04 SET v = id; UPDATE c05 SET v = id;
UPDATE c15 SET v = id; UPDATE c21 SET v = id; UPDATE c22 SET v = id; UPDATE c24 SET v = id;
UPDATE c26 SET v = id; UPDATE c27 SET v = id; UPDATE c28 SET v = id;
UPDATE c29 SET v = id; UPDATE c33 SET v = id; UPDATE c35 SET v = id; UPDATE c44 SET v = id;
UPDATE c45 SET v = id; UPDATE c52 SET v = id; UPDATE c54 SET v = id; UPDATE c68 SET v = id;
UPDATE c16 SET name = 'n' || id; UPDATE c17 SET name = 'n' || id; UPDATE c18 SET name = 'n' || id;
UPDATE c34 SET name = 'N' || id; UPDATE c36 SET name = 'N' || id; UPDATE c41 SET name = 'n' || id;
UPDATE c40 SET legacy = 'l' || id; UPDATE c23 SET code = id::text;
UPDATE c19 SET amount = id / 100.0; UPDATE c20 SET amount = id / 100.0;
UPDATE c37 SET k = id; UPDATE c38 SET k = id; UPDATE c39 SET k = id;
UPDATE c30 SET pid = id; UPDATE c31 SET pid = id; UPDATE c32 SET pid = id;
UPDATE c46 SET m = 'ok';
INSERT INTO c47 SELECT g, g FROM generate_series(1, 2000) g;
INSERT INTO c48 SELECT g, g FROM generate_series(1, 2000) g;
INSERT INTO c49 SELECT g, g FROM generate_series(1, 2000) g;
INSERT INTO c50 SELECT g, g FROM generate_series(1, 1000) g;
INSERT INTO c50_b SELECT g, g FROM generate_series(1001, 2000) g;
INSERT INTO c51 SELECT g, g FROM generate_series(1, 1000) g;
INSERT INTO c51_b SELECT g, g FROM generate_series(1001, 2000) g;

-- What some cases start from.
ALTER TABLE c26 ADD CONSTRAINT c26_v_nn CHECK (v IS NOT NULL) NOT VALID;
ALTER TABLE c29 ADD CONSTRAINT c29_v_pos CHECK (v > 0) NOT VALID;
ALTER TABLE c32 ADD CONSTRAINT c32_fk FOREIGN KEY (pid) REFERENCES c32p (id) NOT VALID;
CREATE UNIQUE INDEX c39_k_idx ON c39 (k);
CREATE INDEX c44_v_idx ON c44 (v);
CREATE INDEX c45_v_idx ON c45 (v);
CREATE INDEX c64_v_idx ON c64 (v);
