-- Projects: the full document plus the columns that are looked up or sorted on.
CREATE TABLE projects (
    name            TEXT    NOT NULL PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    arn             TEXT    NOT NULL UNIQUE,
    creation_micros INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    document        TEXT    NOT NULL CHECK (json_valid(document))
) WITHOUT ROWID;
CREATE INDEX projects_by_creation ON projects (creation_micros, name);

-- Tags, keyed by the tagged resource's ARN.
CREATE TABLE tags (
    resource_arn TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
) WITHOUT ROWID;
