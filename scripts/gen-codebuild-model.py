#!/usr/bin/env python3
"""Generate crates/codebuild/model/codebuild.json: the input shapes of the CodeBuild
operations sagestack serves, without documentation strings, in the compact form the
other services' models share (scripts/model_gen.py).

Source: the botocore CodeBuild model (codebuild/2016-10-06/service-2.json, gzipped in
recent botocore releases), from the installed botocore unless a path is given:

    python3 scripts/gen-codebuild-model.py [SOURCE.json[.gz]]
"""
import model_gen

OPERATIONS = [
    "CreateProject", "UpdateProject", "BatchGetProjects", "ListProjects", "DeleteProject",
    "StartBuild", "BatchGetBuilds", "ListBuildsForProject", "ListBuilds",
]


if __name__ == "__main__":
    model_gen.main(OPERATIONS, "codebuild/model/codebuild.json", "codebuild/2016-10-06")
