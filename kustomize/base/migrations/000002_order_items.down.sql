DROP TABLE shop.order_items;
