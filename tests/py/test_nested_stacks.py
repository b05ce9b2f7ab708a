"""Nested stacks (issue #23): `AWS::CloudFormation::Stack` runs real child stacks in the
same engine, created, updated, rolled back and deleted with their parent, through boto3
and through `aws cloudformation package` + `deploy`."""
import json
import os

from conftest import REPO, aws_cli, fixture, put_template, settled_stack
from conftest import stack_events as events

NESTED = os.path.join(REPO, "tests", "fixtures", "nested")


def with_urls(body, urls):
    """The parent template with each relative TemplateURL replaced by its S3 URL."""
    for name, url in urls.items():
        body = body.replace(f"TemplateURL: {name}", f"TemplateURL: {url}")
    return body


def children(cfn, parent):
    """The parent's nested stacks as {logical id: DescribeStacks record}."""
    out = {}
    for r in cfn.describe_stack_resources(StackName=parent)["StackResources"]:
        if r["ResourceType"] == "AWS::CloudFormation::Stack":
            out[r["LogicalResourceId"]] = cfn.describe_stacks(StackName=r["PhysicalResourceId"])["Stacks"][0]
    return out


def upload(s3, *names):
    urls = {}
    for name in names:
        put_template(s3, "nested", name, fixture(f"nested/{name}"))
        urls[name] = f"https://nested.s3.amazonaws.com/{name}"
    return urls


def test_parent_with_two_children_lives_and_dies_with_them(cfn, s3, ssm):
    urls = upload(s3, "network.yaml", "app.yaml")
    parent = with_urls(fixture("nested/parent.yaml"), urls)
    cfn.create_stack(StackName="tree", TemplateBody=parent, Tags=[{"Key": "team", "Value": "ml"}])
    stack = settled_stack(cfn, "tree")
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, "tree")
    kids = children(cfn, "tree")
    assert set(kids) == {"Network", "App"}
    for logical, child in kids.items():
        # AWS's naming and lineage; the parent's tags and the resource's own.
        assert child["StackName"].startswith(f"tree-{logical}-") and len(child["StackName"].split("-")[-1]) == 13
        assert child["ParentId"] == stack["StackId"] and child["RootId"] == stack["StackId"]
        assert {"Key": "team", "Value": "ml"} in child["Tags"]
    assert {"Key": "tier", "Value": "app"} in kids["App"]["Tags"]
    # The second child got the first's output; the parent reads the second's outputs.
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    value = ssm.get_parameter(Name=out["Setting"])["Parameter"]["Value"]
    assert value.startswith("arn:aws:sns:") and value.endswith("dev-events|small")
    # DescribeStacks lists nested stacks too.
    listed = {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}
    assert {c["StackName"] for c in kids.values()} <= listed

    # An update that changes one child: that child updates, the other is left alone.
    cfn.update_stack(StackName="tree", TemplateBody=parent,
                     Parameters=[{"ParameterKey": "Size", "ParameterValue": "large"}])
    stack = settled_stack(cfn, "tree")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", events(cfn, "tree")
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["Size"] == "large"
    after = children(cfn, "tree")
    assert after["App"]["StackStatus"] == "UPDATE_COMPLETE"
    assert after["Network"]["StackStatus"] == "CREATE_COMPLETE"

    # A child update that fails rolls the whole tree back. (The broken template has a key
    # of its own: the rollback reads the previous TemplateURL again, see the docs.)
    put_template(s3, "nested", "app-broken.yaml", fixture("nested/app.yaml").replace(
        "      Type: String\n      Value:", "      Type: NotAType\n      Value:"))
    broken = parent.replace(urls["app.yaml"], "https://nested.s3.amazonaws.com/app-broken.yaml")
    cfn.update_stack(StackName="tree", TemplateBody=broken,
                     Parameters=[{"ParameterKey": "Size", "ParameterValue": "huge"}])
    stack = settled_stack(cfn, "tree", timeout=60)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", events(cfn, "tree")
    [reason] = [r for lid, status, r in events(cfn, "tree") if lid == "App" and status == "UPDATE_FAILED"]
    assert reason.startswith(f"Embedded stack {after['App']['StackId']} was not successfully updated.")
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["Size"] == "large"
    assert ssm.get_parameter(Name=out["Setting"])["Parameter"]["Value"].endswith("|large")

    # Deleting the parent deletes the children.
    cfn.delete_stack(StackName="tree")
    gone = settled_stack(cfn, stack["StackId"])
    assert gone["StackStatus"] == "DELETE_COMPLETE", events(cfn, stack["StackId"])
    for child in after.values():
        assert cfn.describe_stacks(StackName=child["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_a_failing_child_fails_the_create_with_its_reason(cfn, s3):
    put_template(s3, "nested", "bad.yaml", "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n"
                 "    Properties: {Type: String}\n")
    cfn.create_stack(StackName="bad-tree", TemplateBody=json.dumps({"Resources": {"Child": {
        "Type": "AWS::CloudFormation::Stack",
        "Properties": {"TemplateURL": "https://nested.s3.amazonaws.com/bad.yaml"}}}}))
    stack = settled_stack(cfn, "bad-tree", timeout=60)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    [reason] = [r for lid, status, r in events(cfn, "bad-tree") if lid == "Child" and status == "CREATE_FAILED"]
    assert "was not successfully created: The following resource(s) failed to create: [P]." in reason


def test_package_and_deploy_run_nested_templates_unchanged(server, s3, cfn, tmp_path):
    s3.create_bucket(Bucket="artifacts")
    packaged = tmp_path / "packaged.yaml"
    rc, out, err = aws_cli(server.url, "cloudformation", "package",
                           "--template-file", os.path.join(NESTED, "parent.yaml"),
                           "--s3-bucket", "artifacts", "--output-template-file", str(packaged),
                           extra_env={"AWS_ENDPOINT_URL_S3": server.url})
    assert rc == 0, err
    assert f"TemplateURL: {server.url}/artifacts/" in packaged.read_text()
    # `deploy` makes the change set; it is executed apart from the CLI, whose stack
    # waiter first sleeps 30 s when the stack is not complete at its first look.
    rc, out, err = aws_cli(server.url, "cloudformation", "deploy", "--template-file", str(packaged),
                           "--stack-name", "packaged", "--parameter-overrides", "Size=medium",
                           "--no-execute-changeset")
    assert rc == 0, (out, err)
    [summary] = cfn.list_change_sets(StackName="packaged")["Summaries"]
    cfn.execute_change_set(ChangeSetName=summary["ChangeSetId"])
    stack = settled_stack(cfn, "packaged")
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, "packaged")
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["Size"] == "medium"
    assert set(children(cfn, "packaged")) == {"Network", "App"}
