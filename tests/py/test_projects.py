"""The project operations end to end with boto3."""
import datetime
import math
import re
import time

import pytest

from conftest import ACCESS_KEY, SC, create, delete_and_wait, wait_status


def test_create_describe_update_list_delete(sm):
    before = datetime.datetime.now(datetime.timezone.utc)
    out = create(sm, "flow-1", ProjectDescription="first", Tags=[{"Key": "team", "Value": "ml"}])
    assert re.fullmatch(r"p-[a-z0-9]{12}", out["ProjectId"])
    assert out["ProjectArn"] == "arn:aws:sagemaker:us-east-1:000000000000:project/flow-1"
    assert out["ResponseMetadata"]["RequestId"]

    d = sm.describe_project(ProjectName="flow-1")
    assert d["ProjectName"] == "flow-1"
    assert d["ProjectId"] == out["ProjectId"]
    assert d["ProjectArn"] == out["ProjectArn"]
    assert d["ProjectDescription"] == "first"
    assert d["ProjectStatus"] in ("Pending", "CreateInProgress", "CreateFailed")
    assert d["ServiceCatalogProvisioningDetails"] == SC
    assert abs((d["CreationTime"] - before).total_seconds()) < 60
    assert d["CreatedBy"]["IamIdentity"]["PrincipalId"] == ACCESS_KEY
    assert d["CreatedBy"]["IamIdentity"]["Arn"] == "arn:aws:iam::000000000000:root"
    # The product does not exist in this server's Service Catalog: the project fails to
    # provision, and says why.
    d = wait_status(sm, "flow-1", "CreateFailed")
    assert d["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductStatusMessage"] == \
        f"Product {SC['ProductId']} not found."
    assert d["LastModifiedTime"] >= d["CreationTime"]

    up = sm.update_project(ProjectName="flow-1", ProjectDescription="second")
    assert up["ProjectArn"] == out["ProjectArn"]
    d2 = sm.describe_project(ProjectName="flow-1")
    assert d2["ProjectDescription"] == "second"
    assert d2["ServiceCatalogProvisioningDetails"] == SC
    assert d2["LastModifiedTime"] >= d["LastModifiedTime"]
    assert d2["CreationTime"] == d["CreationTime"]

    listed = sm.list_projects()["ProjectSummaryList"]
    assert [p["ProjectName"] for p in listed] == ["flow-1"]
    assert listed[0]["ProjectId"] == out["ProjectId"]
    assert listed[0]["ProjectStatus"] == "CreateFailed"
    assert listed[0]["ProjectDescription"] == "second"

    delete_and_wait(sm, "flow-1")
    assert sm.list_projects()["ProjectSummaryList"] == []


def test_template_provider_project_keeps_its_details(sm):
    tp = [{"CfnTemplateProvider": {
        "TemplateName": "my-template",
        "TemplateURL": "https://bucket.s3.amazonaws.com/t.yaml",
        "RoleARN": "arn:aws:iam::000000000000:role/my-role",
        "Parameters": [{"Key": "Env", "Value": "dev"}],
    }}]
    create(sm, "tp-1", TemplateProviders=tp)
    # The template cannot be fetched from that bucket, so the project fails, keeping its
    # details and naming its stack.
    d = wait_status(sm, "tp-1", "CreateFailed")
    detail = d["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
    stack = detail.pop("StackDetail")
    assert stack["Name"] == f"SP-{d['ProjectId']}-my-template"
    assert stack["StatusMessage"].startswith("S3 error: ")
    assert detail == tp[0]["CfnTemplateProvider"]
    assert "ServiceCatalogProvisioningDetails" not in d
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as e:
        sm.update_project(ProjectName="tp-1", ServiceCatalogProvisioningUpdateDetails={"ProvisioningArtifactId": "x"})
    assert "was not created from a Service Catalog product" in e.value.response["Error"]["Message"]


def test_update_tags_merge(sm):
    arn = create(sm, "tags-up", Tags=[{"Key": "a", "Value": "1"}])["ProjectArn"]
    wait_status(sm, "tags-up", "CreateFailed")
    sm.update_project(ProjectName="tags-up", Tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}]


def test_list_sort_and_filters(sm):
    names = ["b-proj", "a-proj", "c-other"]
    for i, n in enumerate(names):
        if i:
            time.sleep(1.1)  # boto3 sends whole seconds in CreationTimeAfter/Before
        create(sm, n)
    by_default = [p["ProjectName"] for p in sm.list_projects()["ProjectSummaryList"]]
    assert by_default == ["c-other", "a-proj", "b-proj"]  # newest first
    asc = sm.list_projects(SortBy="CreationTime", SortOrder="Ascending")["ProjectSummaryList"]
    assert [p["ProjectName"] for p in asc] == names
    by_name = sm.list_projects(SortBy="Name", SortOrder="Ascending")["ProjectSummaryList"]
    assert [p["ProjectName"] for p in by_name] == ["a-proj", "b-proj", "c-other"]
    by_name_desc = sm.list_projects(SortBy="Name", SortOrder="Descending")["ProjectSummaryList"]
    assert [p["ProjectName"] for p in by_name_desc] == ["c-other", "b-proj", "a-proj"]
    contains = sm.list_projects(NameContains="PROJ", SortBy="Name", SortOrder="Ascending")
    assert [p["ProjectName"] for p in contains["ProjectSummaryList"]] == ["a-proj", "b-proj"]
    second = asc[1]["CreationTime"].timestamp()
    utc = datetime.timezone.utc
    after = sm.list_projects(CreationTimeAfter=datetime.datetime.fromtimestamp(math.ceil(second), utc),
                             SortOrder="Ascending")["ProjectSummaryList"]
    assert [p["ProjectName"] for p in after] == ["c-other"]
    before = sm.list_projects(CreationTimeBefore=datetime.datetime.fromtimestamp(math.floor(second), utc),
                              SortOrder="Ascending")["ProjectSummaryList"]
    assert [p["ProjectName"] for p in before] == ["b-proj"]


def test_list_pages_with_next_token(sm):
    for i in range(25):
        create(sm, f"page-{i:02d}")
    seen, token, pages = [], None, 0
    while True:
        kw = {"MaxResults": 10, "SortBy": "Name", "SortOrder": "Ascending"}
        if token:
            kw["NextToken"] = token
        out = sm.list_projects(**kw)
        pages += 1
        seen += [p["ProjectName"] for p in out["ProjectSummaryList"]]
        token = out.get("NextToken")
        if not token:
            break
    assert pages == 3
    assert seen == [f"page-{i:02d}" for i in range(25)]
    default_page = sm.list_projects()
    assert len(default_page["ProjectSummaryList"]) == 10
    assert "NextToken" in default_page


def test_tags_add_list_delete(sm):
    arn = create(sm, "tagged")["ProjectArn"]
    out = sm.add_tags(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])
    assert out["Tags"] == [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "one"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"][0] == {"Key": "a", "Value": "one"}
    sm.delete_tags(ResourceArn=arn, TagKeys=["a", "missing"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    # Tags go away with their project, and do not come back with a new one.
    wait_status(sm, "tagged", "CreateFailed")
    delete_and_wait(sm, "tagged")
    arn2 = create(sm, "tagged")["ProjectArn"]
    assert arn2 == arn
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []


def test_fifty_tags_allowed_and_unicode(sm):
    arn = create(sm, "many-tags")["ProjectArn"]
    tags = [{"Key": f"clé-{i:02d}", "Value": f"valeur {i} @ + = :/"} for i in range(50)]
    sm.add_tags(ResourceArn=arn, Tags=tags)
    out = sm.list_tags(ResourceArn=arn, MaxResults=50)
    assert len(out["Tags"]) == 50
    assert "NextToken" not in out


def test_delete_then_recreate_gets_a_new_id(sm):
    first = create(sm, "again")["ProjectId"]
    wait_status(sm, "again", "CreateFailed")
    delete_and_wait(sm, "again")
    second = create(sm, "again")["ProjectId"]
    assert first != second


def test_health_and_request_ids(server):
    import json
    import urllib.request
    with urllib.request.urlopen(server.url + "/_sagestack/health") as r:
        body = json.load(r)
        assert body["status"] == "ok"
        assert body["version"]
        assert r.headers["x-amzn-RequestId"]


@pytest.mark.parametrize("region,partition", [("cn-north-1", "aws-cn"), ("eu-west-1", "aws")])
def test_arn_partition_follows_region(tmp_path, region, partition):
    from conftest import Server, make_client
    s = Server(str(tmp_path / "d"))
    s.extra_env = {"SAGESTACK_REGION": region, "SAGESTACK_ACCOUNT_ID": "123456789012"}
    s.start()
    try:
        out = create(make_client(s.url), "part")
        assert out["ProjectArn"] == f"arn:{partition}:sagemaker:{region}:123456789012:project/part"
    finally:
        s.stop()
