#!/usr/bin/env python3
"""Generate crates/logs/model/logs.json: the shapes the CloudWatch Logs operations that
sagestack serves need for input validation, without documentation strings, in the same
compact form as the SageMaker model (the compaction is shared with
scripts/gen-sagemaker-model.py).

Source: the botocore CloudWatch Logs model (logs/2014-03-28/service-2.json, gzipped in
recent botocore releases), from the installed botocore unless a path is given:

    python3 scripts/gen-logs-model.py [SOURCE.json[.gz]]
"""
import model_gen

OPERATIONS = [
    "CreateLogGroup", "DeleteLogGroup", "DescribeLogGroups",
    "CreateLogStream", "DeleteLogStream", "DescribeLogStreams",
    "PutLogEvents", "GetLogEvents", "FilterLogEvents",
    "PutRetentionPolicy", "DeleteRetentionPolicy",
    "TagResource", "UntagResource", "ListTagsForResource",
    "TagLogGroup", "UntagLogGroup", "ListTagsLogGroup",
    "AssociateKmsKey", "DisassociateKmsKey",
]


if __name__ == "__main__":
    model_gen.main(OPERATIONS, "logs/model/logs.json", "logs/2014-03-28")
