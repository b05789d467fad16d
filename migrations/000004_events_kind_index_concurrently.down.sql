-- schemagate:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS mcp.contexts_metadata_gin_idx;
DROP INDEX CONCURRENTLY IF EXISTS mcp.events_kind_idx;
