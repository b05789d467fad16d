DROP TABLE mcp.tenants;
