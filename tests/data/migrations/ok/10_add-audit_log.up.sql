-- 10 add-audit_log: up
-- schemagate:no-transaction (not on the first line, so this one runs in a transaction)
CREATE TABLE audit_log (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
