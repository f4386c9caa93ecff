-- Reference data every environment holds.
INSERT INTO catalog (code, name) VALUES ('main', 'Main catalog');
INSERT INTO product (sku, catalog_code, name, price_cents) VALUES ('TSHIRT-1', 'main', 'T-shirt; cotton', 1999);
INSERT INTO product (sku, catalog_code, name, price_cents) VALUES ('MUG-1', 'main', 'Mug "classic"', 899);
INSERT INTO setting (name, value) VALUES ('currency', 'EUR');
