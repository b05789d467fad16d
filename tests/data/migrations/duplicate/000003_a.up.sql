-- a
SELECT 3;
