-- The example app's schema; DATABASE_SEARCH_PATH=shop,public makes it the default.
CREATE SCHEMA IF NOT EXISTS shop;

CREATE TABLE shop.orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer    text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
