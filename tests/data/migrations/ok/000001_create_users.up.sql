-- 000001 create_users: up
CREATE TABLE users (
	id bigserial PRIMARY KEY,
	email text NOT NULL UNIQUE,
	display_name text NOT NULL DEFAULT 'Zoë'
);
