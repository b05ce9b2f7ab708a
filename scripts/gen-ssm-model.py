#!/usr/bin/env python3
"""Generate crates/ssm/model/ssm-parameters.json: the shapes the SSM parameter operations
need for input validation, without documentation strings, in the same compact form as
the SageMaker model (the compaction is scripts/model_gen.py).

Source: the full botocore SSM model of an installed botocore
(ssm/2014-11-06/service-2.json[.gz], the default, because the extracted reference copy
/work/shared/reference/ssm-shapes.json lacks DescribeParameters and the tag operations)
or a file given on the command line:

    python3 scripts/gen-ssm-model.py [SOURCE.json]
"""
import model_gen

OPERATIONS = [
    "PutParameter", "GetParameter", "GetParameters", "GetParametersByPath", "DeleteParameter",
    "DeleteParameters", "DescribeParameters", "GetParameterHistory",
    "AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource",
]


if __name__ == "__main__":
    model_gen.main(OPERATIONS, "ssm/model/ssm-parameters.json", "ssm/2014-11-06")
