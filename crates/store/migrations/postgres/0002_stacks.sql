-- CloudFormation stack engine state (the engine's StackStore): whole records as JSON
-- documents, keyed as the StackStore contract documents. `ord` keeps creation order.
CREATE TABLE cfn_stacks (
    ord      BIGSERIAL PRIMARY KEY,
    stack_id TEXT      NOT NULL UNIQUE,
    document TEXT      NOT NULL
);

CREATE TABLE cfn_resources (
    stack_id   TEXT NOT NULL,
    logical_id TEXT NOT NULL,
    document   TEXT NOT NULL,
    PRIMARY KEY (stack_id, logical_id)
);

CREATE TABLE cfn_events (
    stack_id TEXT   NOT NULL,
    seq      BIGINT NOT NULL,
    document TEXT   NOT NULL,
    PRIMARY KEY (stack_id, seq)
);

CREATE TABLE cfn_change_sets (
    ord           BIGSERIAL PRIMARY KEY,
    change_set_id TEXT      NOT NULL UNIQUE,
    stack_id      TEXT      NOT NULL,
    document      TEXT      NOT NULL
);
CREATE INDEX cfn_change_sets_by_stack ON cfn_change_sets (stack_id, ord);

CREATE TABLE cfn_exports (
    name     TEXT NOT NULL PRIMARY KEY,
    value    TEXT NOT NULL,
    stack_id TEXT NOT NULL
);
CREATE INDEX cfn_exports_by_stack ON cfn_exports (stack_id);
