-- S3: buckets, objects (whole bodies), multipart uploads and their parts. Keys compare
-- bytewise (SQLite's default BINARY collation on UTF-8 text), the order S3 lists in.
CREATE TABLE s3_buckets (
    name            TEXT    NOT NULL PRIMARY KEY,
    region          TEXT    NOT NULL,
    creation_micros INTEGER NOT NULL,
    document        TEXT    NOT NULL
) WITHOUT ROWID;

CREATE TABLE s3_objects (
    bucket               TEXT    NOT NULL REFERENCES s3_buckets (name),
    key                  TEXT    NOT NULL,
    size                 INTEGER NOT NULL,
    etag                 TEXT    NOT NULL,
    last_modified_micros INTEGER NOT NULL,
    document             TEXT    NOT NULL,
    body                 BLOB    NOT NULL,
    PRIMARY KEY (bucket, key)
);

CREATE TABLE s3_uploads (
    upload_id        TEXT    NOT NULL PRIMARY KEY,
    bucket           TEXT    NOT NULL REFERENCES s3_buckets (name),
    key              TEXT    NOT NULL,
    initiated_micros INTEGER NOT NULL,
    document         TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX s3_uploads_by_bucket ON s3_uploads (bucket, key, initiated_micros);

CREATE TABLE s3_parts (
    upload_id            TEXT    NOT NULL REFERENCES s3_uploads (upload_id),
    part_number          INTEGER NOT NULL,
    size                 INTEGER NOT NULL,
    etag                 TEXT    NOT NULL,
    last_modified_micros INTEGER NOT NULL,
    body                 BLOB    NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
