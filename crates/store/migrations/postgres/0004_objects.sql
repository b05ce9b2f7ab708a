-- S3: buckets, objects (whole bodies), multipart uploads and their parts. Keys are
-- COLLATE "C" so that they compare bytewise, the order S3 lists in.
CREATE TABLE s3_buckets (
    name            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    region          TEXT   NOT NULL,
    creation_micros BIGINT NOT NULL,
    document        TEXT   NOT NULL
);

CREATE TABLE s3_objects (
    bucket               TEXT COLLATE "C" NOT NULL REFERENCES s3_buckets (name),
    key                  TEXT COLLATE "C" NOT NULL,
    size                 BIGINT NOT NULL,
    etag                 TEXT   NOT NULL,
    last_modified_micros BIGINT NOT NULL,
    document             TEXT   NOT NULL,
    body                 BYTEA  NOT NULL,
    PRIMARY KEY (bucket, key)
);

CREATE TABLE s3_uploads (
    upload_id        TEXT   NOT NULL PRIMARY KEY,
    bucket           TEXT COLLATE "C" NOT NULL REFERENCES s3_buckets (name),
    key              TEXT COLLATE "C" NOT NULL,
    initiated_micros BIGINT NOT NULL,
    document         TEXT   NOT NULL
);
CREATE INDEX s3_uploads_by_bucket ON s3_uploads (bucket, key, initiated_micros);

CREATE TABLE s3_parts (
    upload_id            TEXT    NOT NULL REFERENCES s3_uploads (upload_id),
    part_number          INTEGER NOT NULL,
    size                 BIGINT  NOT NULL,
    etag                 TEXT    NOT NULL,
    last_modified_micros BIGINT  NOT NULL,
    body                 BYTEA   NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
