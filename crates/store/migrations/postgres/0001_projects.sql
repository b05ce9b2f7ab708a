-- Projects: the full document plus the columns that are looked up or sorted on.
CREATE TABLE projects (
    name            TEXT   NOT NULL PRIMARY KEY,
    id              TEXT   NOT NULL UNIQUE,
    arn             TEXT   NOT NULL UNIQUE,
    creation_micros BIGINT NOT NULL,
    version         BIGINT NOT NULL,
    -- `json` (not `jsonb`) keeps the document byte for byte as written.
    document        JSON   NOT NULL
);
CREATE INDEX projects_by_creation ON projects (creation_micros, name);

-- Tags, keyed by the tagged resource's ARN.
CREATE TABLE tags (
    resource_arn TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
);
