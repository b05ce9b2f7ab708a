-- SSM parameters: the latest version of each (listed by path), and every kept version
-- (read by `name:version`), both as opaque JSON documents.
CREATE TABLE ssm_parameters (
    name     TEXT    NOT NULL PRIMARY KEY,
    version  INTEGER NOT NULL,
    document TEXT    NOT NULL
) WITHOUT ROWID;

CREATE TABLE ssm_parameter_versions (
    name     TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    document TEXT    NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;

-- SageMaker model package groups (tags as a JSON array of [key, value]).
CREATE TABLE model_package_groups (
    name            TEXT    NOT NULL PRIMARY KEY,
    arn             TEXT    NOT NULL UNIQUE,
    creation_micros INTEGER NOT NULL,
    document        TEXT    NOT NULL,
    tags            TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX model_package_groups_by_creation ON model_package_groups (creation_micros, name);

-- IAM roles: names are unique ignoring case, as in IAM.
CREATE TABLE iam_roles (
    name_key        TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    role_id         TEXT    NOT NULL UNIQUE,
    arn             TEXT    NOT NULL,
    creation_micros INTEGER NOT NULL,
    document        TEXT    NOT NULL
) WITHOUT ROWID;
