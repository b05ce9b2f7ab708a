-- The status history of projects (sagestack_store::project_history): one row per status
-- a project entered after it was created, written in the transaction of the update that
-- made the change. Keyed by the project's id, so a re-created name starts a new history.
CREATE TABLE project_history (
    project_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    at_micros BIGINT NOT NULL,
    PRIMARY KEY (project_id, version)
);
