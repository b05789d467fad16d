DROP TABLE shop.orders;
DROP SCHEMA shop;
