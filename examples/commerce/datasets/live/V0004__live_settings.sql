-- Live only: the storefront's settings and a first order.
INSERT INTO setting (name, value) VALUES ('environment', 'live');
INSERT INTO customer_order (sku, quantity) VALUES ('MUG-1', 2);
