-- The Commerce schema, shared by Author and Live.
CREATE TABLE IF NOT EXISTS catalog (
    code VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS product (
    sku VARCHAR(64) PRIMARY KEY,
    catalog_code VARCHAR(64) NOT NULL,
    name VARCHAR(255) NOT NULL,
    price_cents INT NOT NULL,
    CONSTRAINT fk_product_catalog FOREIGN KEY (catalog_code) REFERENCES catalog (code)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS customer_order (
    id INT AUTO_INCREMENT PRIMARY KEY,
    sku VARCHAR(64) NOT NULL,
    quantity INT NOT NULL,
    CONSTRAINT fk_order_product FOREIGN KEY (sku) REFERENCES product (sku)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS setting (
    name VARCHAR(64) PRIMARY KEY,
    value VARCHAR(255) NOT NULL
) ENGINE=InnoDB;
