-- The application's own schema; DATABASE_SEARCH_PATH=mcp,public makes it the default.
CREATE SCHEMA IF NOT EXISTS mcp;

CREATE TABLE mcp.tenants (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]+$'),
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
