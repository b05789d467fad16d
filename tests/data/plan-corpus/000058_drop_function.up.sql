-- case: drop_function
-- The previous release still calls it.
-- expect: breaking=yes verdict=refused
-- old: SELECT c59_f()
DROP FUNCTION c59_f();
