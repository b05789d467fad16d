-- schemagate:no-transaction
-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block, so this file
-- runs statement by statement. IF NOT EXISTS keeps a retry after a partial run safe.
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_kind_idx ON mcp.events (kind);
CREATE INDEX CONCURRENTLY IF NOT EXISTS contexts_metadata_gin_idx ON mcp.contexts USING gin (metadata);
