DROP TRIGGER contexts_touch_updated_at ON mcp.contexts;
DROP FUNCTION mcp.touch_updated_at();
