-- case: create_trigger
-- CREATE TRIGGER blocks writes, but only for a moment: no scan, no rewrite.
-- expect c70: lock=SHARE_ROW_EXCLUSIVE rewrite=no scan=no
-- expect: breaking=no verdict=ok
-- old: INSERT INTO c70 (id, v) VALUES (-1, 0)
CREATE TRIGGER c70_touch BEFORE UPDATE ON c70 FOR EACH ROW EXECUTE FUNCTION c70_touch();
