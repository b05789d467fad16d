-- 000001 create_users: down
DROP TABLE users;
