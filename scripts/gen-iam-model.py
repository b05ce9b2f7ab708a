#!/usr/bin/env python3
"""Generate crates/iam/model/iam.json: the input shapes of the IAM role operations
sagestack serves, without documentation strings, in the compact form the other services'
models share (scripts/model_gen.py).

Source: the botocore IAM model (iam/2010-05-08/service-2.json, gzipped in recent
botocore releases), from the installed botocore unless a path is given:

    python3 scripts/gen-iam-model.py [SOURCE.json[.gz]]
"""
import model_gen

OPERATIONS = [
    "CreateRole", "GetRole", "ListRoles", "UpdateRole", "UpdateRoleDescription",
    "UpdateAssumeRolePolicy", "DeleteRole",
    "TagRole", "UntagRole", "ListRoleTags",
    "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy", "ListRolePolicies",
    "AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies",
    "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary",
    "ListInstanceProfilesForRole",
]


if __name__ == "__main__":
    model_gen.main(OPERATIONS, "iam/model/iam.json", "iam/2010-05-08")
