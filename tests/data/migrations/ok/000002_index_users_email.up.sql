-- schemagate:no-transaction
CREATE INDEX CONCURRENTLY users_email_lower ON users (lower(email));
