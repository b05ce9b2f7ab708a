#!/usr/bin/env python3
"""Generate crates/codepipeline/model/codepipeline.json: the input shapes of the
CodePipeline operations sagestack serves, without documentation strings, in the compact
form the other services' models share (scripts/model_gen.py).

Source: the botocore CodePipeline model (codepipeline/2015-07-09/service-2.json, gzipped
in recent botocore releases), from the installed botocore unless a path is given:

    python3 scripts/gen-codepipeline-model.py [SOURCE.json[.gz]]
"""
import model_gen

OPERATIONS = [
    "CreatePipeline", "GetPipeline", "UpdatePipeline", "DeletePipeline", "ListPipelines",
    "GetPipelineState",
    "StartPipelineExecution", "GetPipelineExecution", "ListPipelineExecutions",
    "StopPipelineExecution",
    "TagResource", "UntagResource", "ListTagsForResource",
]


if __name__ == "__main__":
    model_gen.main(OPERATIONS, "codepipeline/model/codepipeline.json", "codepipeline/2015-07-09")
