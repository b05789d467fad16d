-- Keeps contexts.updated_at current; the body is dollar-quoted PL/pgSQL with
-- semicolons and a quoted ';' that a naive splitter would cut.
CREATE FUNCTION mcp.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    IF NEW.name = ';' THEN
        RAISE EXCEPTION 'context name may not be a lone semicolon';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER contexts_touch_updated_at
    BEFORE UPDATE ON mcp.contexts
    FOR EACH ROW EXECUTE FUNCTION mcp.touch_updated_at();
