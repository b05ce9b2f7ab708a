-- Leases on work (sagestack_store::leases): which process drives a stack, a project,
-- a Service Catalog operation or an account's event delivery, until when. A claim is
-- one upsert that wins only over a free, lapsed or already-owned row.
CREATE TABLE leases (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX leases_by_owner ON leases (owner);
CREATE INDEX leases_by_expiry ON leases (kind, expires_at_ms);
