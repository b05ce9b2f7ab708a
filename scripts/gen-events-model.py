#!/usr/bin/env python3
"""Generate crates/events/model/events.json: the input shapes of the EventBridge
operations sagestack serves, without documentation strings, in the compact form the
other services' models share (scripts/model_gen.py).

Source: the botocore EventBridge model (events/2015-10-07/service-2.json, gzipped in
recent botocore releases), from the installed botocore unless a path is given:

    python3 scripts/gen-events-model.py [SOURCE.json[.gz]]
"""
import model_gen

OPERATIONS = [
    "CreateEventBus", "DescribeEventBus", "ListEventBuses", "DeleteEventBus", "UpdateEventBus",
    "PutRule", "DescribeRule", "ListRules", "DeleteRule", "EnableRule", "DisableRule",
    "PutTargets", "RemoveTargets", "ListTargetsByRule", "ListRuleNamesByTarget",
    "TagResource", "UntagResource", "ListTagsForResource",
    "PutEvents", "TestEventPattern",
]


# Patterns the Rust `regex` crate cannot compile (look-ahead), rewritten to match the same.
REGEX = {
    # "not blank": at least one non-space character.
    r"^(?!\s*$).+": r".*\S.*",
}


if __name__ == "__main__":
    model_gen.main(OPERATIONS, "events/model/events.json", "events/2015-10-07", regex=REGEX)
