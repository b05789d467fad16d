-- 10 add-audit_log: up
-- schemagate:no-transaction (words after it: not the directive, so this one runs in a transaction)
CREATE TABLE audit_log (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
