-- b
SELECT 3;
