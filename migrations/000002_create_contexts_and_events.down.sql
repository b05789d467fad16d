DROP TABLE mcp.events;
DROP TABLE mcp.contexts;
