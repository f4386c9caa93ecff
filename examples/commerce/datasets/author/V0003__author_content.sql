-- Author only: content editors work on products that are not live yet.
INSERT INTO product (sku, catalog_code, name, price_cents) VALUES ('DRAFT-1', 'main', 'Draft product', 4999);
INSERT INTO setting (name, value) VALUES ('environment', 'author');
