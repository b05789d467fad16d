CREATE TABLE mcp.api_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   bigint      NOT NULL REFERENCES mcp.tenants (id) ON DELETE CASCADE,
    key_hash    bytea       NOT NULL UNIQUE,
    label       text        NOT NULL DEFAULT '',
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX api_keys_tenant_idx ON mcp.api_keys (tenant_id) WHERE expires_at IS NULL;

COMMENT ON TABLE mcp.api_keys IS 'Hashed API keys; the plain key is shown once and never stored.';
