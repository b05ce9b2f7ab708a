#!/usr/bin/env python3
"""Generate crates/sagemaker/model/sagemaker-projects.json: the shapes the SageMaker
project, tag and model package group operations need for input validation, without
documentation strings.

Source: the botocore SageMaker model (sagemaker/2017-07-24/service-2.json), either the
full model from an installed botocore or the extracted reference copy in
/work/shared/reference/sagemaker-shapes.json. Run it again when botocore changes:

    python3 scripts/gen-sagemaker-model.py [SOURCE.json]

The compaction is in scripts/model_gen.py.
"""
import model_gen

OPERATIONS = [
    "CreateProject", "DescribeProject", "UpdateProject", "ListProjects", "DeleteProject",
    "AddTags", "ListTags", "DeleteTags",
    "CreateModelPackageGroup", "DescribeModelPackageGroup", "ListModelPackageGroups",
    "DeleteModelPackageGroup",
    "CreateModelPackage", "DescribeModelPackage", "ListModelPackages", "UpdateModelPackage",
    "DeleteModelPackage", "BatchDescribeModelPackage",
]

# Patterns the Rust `regex` crate cannot compile as written, in an equivalent form: a
# bounded repetition of a Unicode class (too large a program; the shape's max bounds the
# length anyway), and Java's repetition of `$` (a no-op there).
REGEX = {
    r"[\p{L}\p{M}\p{Z}\p{N}\p{P}]{0,1024}": r"^[\p{L}\p{M}\p{Z}\p{N}\p{P}]*$",
    r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,128}": r"^([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)$",
    r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,256}": r"^([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)$",
    r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]{9,16}:[0-9]{12}:model-package/[\S]{1,2048}":
        r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]{9,16}:[0-9]{12}:model-package/[\S]+$",
    r".{0,1024}": r"^.*$",
    # A name that may not end with a hyphen, then an optional `/version`, without the
    # look-behind.
    r"(arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:[a-z\-]*\/)?([a-zA-Z0-9]([a-zA-Z0-9-]){0,62})(?<!-)(\/[0-9]{1,9})?":
        r"(arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:[a-z\-]*\/)?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\/[0-9]{1,9})?",
}


if __name__ == "__main__":
    model_gen.main(
        OPERATIONS,
        "sagemaker/model/sagemaker-projects.json",
        "sagemaker/2017-07-24",
        regex=REGEX,
        reference="/work/shared/reference/sagemaker-shapes.json",
    )
