-- Service Catalog: portfolios, products (with their provisioning artifacts), provisioned
-- products, records and service settings, each an opaque JSON document keyed by kind and
-- id. `name` is set only where names are unique (provisioned products).
CREATE TABLE sc_documents (
    kind            TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    name            TEXT,
    version         BIGINT  NOT NULL,
    created_micros  BIGINT  NOT NULL,
    document        TEXT    NOT NULL,
    PRIMARY KEY (kind, id),
    UNIQUE (kind, name)
);
CREATE INDEX sc_documents_by_creation ON sc_documents (kind, created_micros, id);

-- Which products each portfolio holds (the launch paths).
CREATE TABLE sc_portfolio_products (
    portfolio_id    TEXT    NOT NULL,
    product_id      TEXT    NOT NULL,
    created_micros  BIGINT  NOT NULL,
    PRIMARY KEY (portfolio_id, product_id)
);
CREATE INDEX sc_portfolio_products_by_product ON sc_portfolio_products (product_id, portfolio_id);
