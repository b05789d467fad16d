DROP TABLE mcp.api_keys;
