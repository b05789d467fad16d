CREATE TABLE shop.order_items (
    order_id  bigint  NOT NULL REFERENCES shop.orders (id) ON DELETE CASCADE,
    sku       text    NOT NULL,
    quantity  integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, sku)
);
