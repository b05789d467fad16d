CREATE TABLE mcp.contexts (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   bigint      NOT NULL REFERENCES mcp.tenants (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE mcp.events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    context_id  uuid        NOT NULL REFERENCES mcp.contexts (id) ON DELETE CASCADE,
    kind        text        NOT NULL,
    payload     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_context_created_idx ON mcp.events (context_id, created_at DESC);
