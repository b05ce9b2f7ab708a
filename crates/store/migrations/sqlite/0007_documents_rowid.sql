-- The document table becomes a rowid table. WITHOUT ROWID, each row (a whole JSON
-- document) was the key of the table's b-tree, so a seek by (kind, id) compared against
-- rows spilled to overflow pages and read those documents whole: every lookup, update and
-- delete cost in proportion to the size of the documents it passed, which made a backlog
-- of large documents (EventBridge's outbox batches) slow to work off. As a rowid table,
-- seeks compare (kind, id) in a small index and read only the row they find.
CREATE TABLE sc_documents_rowid (
    kind            TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    name            TEXT,
    version         INTEGER NOT NULL,
    created_micros  INTEGER NOT NULL,
    document        TEXT    NOT NULL,
    PRIMARY KEY (kind, id),
    UNIQUE (kind, name)
);
INSERT INTO sc_documents_rowid (kind, id, name, version, created_micros, document)
    SELECT kind, id, name, version, created_micros, document FROM sc_documents;
DROP TABLE sc_documents;
ALTER TABLE sc_documents_rowid RENAME TO sc_documents;
CREATE INDEX sc_documents_by_creation ON sc_documents (kind, created_micros, id);
