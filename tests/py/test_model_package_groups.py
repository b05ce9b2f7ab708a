"""SageMaker model package groups end to end: boto3 and the AWS CLI against the real
binary."""
import datetime

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY


def err(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


def test_create_describe_list_delete(sm):
    before = datetime.datetime.now(datetime.timezone.utc)
    out = sm.create_model_package_group(
        ModelPackageGroupName="Churn-Models", ModelPackageGroupDescription="churn",
        Tags=[{"Key": "team", "Value": "ml"}])
    arn = "arn:aws:sagemaker:us-east-1:000000000000:model-package-group/churn-models"
    assert out["ModelPackageGroupArn"] == arn

    d = sm.describe_model_package_group(ModelPackageGroupName="Churn-Models")
    assert d["ModelPackageGroupName"] == "Churn-Models"
    assert d["ModelPackageGroupArn"] == arn
    assert d["ModelPackageGroupDescription"] == "churn"
    assert d["ModelPackageGroupStatus"] == "Completed"
    assert d["CreatedBy"]["IamIdentity"]["PrincipalId"] == ACCESS_KEY
    assert abs((d["CreationTime"] - before).total_seconds()) < 60
    by_arn = sm.describe_model_package_group(ModelPackageGroupName=arn)
    assert by_arn["ModelPackageGroupName"] == "Churn-Models"

    summaries = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in summaries] == ["Churn-Models"]
    assert summaries[0]["ModelPackageGroupStatus"] == "Completed"

    sm.delete_model_package_group(ModelPackageGroupName="Churn-Models")
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    with pytest.raises(ClientError) as e:
        sm.describe_model_package_group(ModelPackageGroupName="Churn-Models")
    assert err(e) == ("ValidationException", "ModelPackageGroup Churn-Models does not exist.")


def test_duplicates_and_validation(sm, raw):
    sm.create_model_package_group(ModelPackageGroupName="dup")
    with pytest.raises(ClientError) as e:
        sm.create_model_package_group(ModelPackageGroupName="dup")
    assert err(e) == ("ValidationException",
                      "Model Package Group already exists: "
                      "arn:aws:sagemaker:us-east-1:000000000000:model-package-group/dup")
    with pytest.raises(ClientError) as e:
        raw.create_model_package_group(ModelPackageGroupName="bad_name-")
    code, msg = err(e)
    assert code == "ValidationException"
    assert msg.startswith("1 validation error detected: Value 'bad_name-' at 'modelPackageGroupName' "
                          "failed to satisfy constraint: Member must satisfy regular expression pattern")
    with pytest.raises(ClientError) as e:
        raw.list_model_package_groups(MaxResults=0)
    assert err(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        sm.delete_model_package_group(ModelPackageGroupName="never")
    assert err(e)[0] == "ValidationException"


def test_list_sorts_filters_and_pages(sm):
    for n in ["grp-c", "grp-a", "other", "grp-b"]:
        sm.create_model_package_group(ModelPackageGroupName=n)
    names = lambda out: [g["ModelPackageGroupName"] for g in out["ModelPackageGroupSummaryList"]]
    assert names(sm.list_model_package_groups()) == ["grp-c", "grp-a", "other", "grp-b"]
    assert names(sm.list_model_package_groups(SortBy="Name")) == ["grp-a", "grp-b", "grp-c", "other"]

    pages = sm.get_paginator("list_model_package_groups").paginate(
        SortBy="Name", SortOrder="Descending", NameContains="grp",
        PaginationConfig={"PageSize": 2})
    seen = [g["ModelPackageGroupName"] for p in pages for g in p["ModelPackageGroupSummaryList"]]
    assert seen == ["grp-c", "grp-b", "grp-a"]


def test_aws_cli(aws):
    rc, out, e = aws("create-model-package-group", "--model-package-group-name", "cli-group",
                     "--model-package-group-description", "from the CLI")
    assert rc == 0, e
    assert out["ModelPackageGroupArn"].endswith(":model-package-group/cli-group")
    rc, out, e = aws("describe-model-package-group", "--model-package-group-name", "cli-group")
    assert rc == 0, e
    assert out["ModelPackageGroupDescription"] == "from the CLI"
    rc, out, e = aws("list-model-package-groups", "--name-contains", "cli")
    assert rc == 0, e
    assert [g["ModelPackageGroupName"] for g in out["ModelPackageGroupSummaryList"]] == ["cli-group"]
    rc, out, e = aws("create-model-package-group", "--model-package-group-name", "cli-group")
    assert rc != 0
    assert "ValidationException" in e and "already exists" in e
    rc, out, e = aws("delete-model-package-group", "--model-package-group-name", "cli-group")
    assert rc == 0, e
