"""CloudFormation as AWS runs it (issue #23): templates AWS deploys that a stricter
reader or a simpler engine would refuse or mis-run, each with its minimal repro."""
import json

import pytest
from botocore.exceptions import ClientError

from conftest import client, fixture, settled_stack
from conftest import stack_events as events


def json_of(text):
    return json.loads(text)


def test_quoted_scalars_and_flow_collections_may_sit_left_of_their_block(cfn):
    # CloudFormation's YAML reader takes a multi-line quoted scalar whose closing line sits
    # at the key's indentation, and flow collections continued further left (item 2).
    template = '''Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: "line one
        line two
      "
      Description: !Join [" ", [a,
    b]]
Outputs:
  Value:
    Value: !GetAtt Param.Value
'''
    cfn.create_stack(StackName="yaml", TemplateBody=template)
    stack = settled_stack(cfn, "yaml")
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, "yaml")
    assert stack["Outputs"][0]["OutputValue"] == "line one line two "


VPC_WITH_IPV6 = fixture("vpc-ipv6-blocks.yaml")


def test_attributes_that_other_resources_amend(cfn):
    # A VPCCidrBlock adds its block to the VPC's Ipv6CidrBlocks (or its association to
    # CidrBlockAssociations), so a subnet that depends on it can carve from it (item 7).
    cfn.create_stack(StackName="vpc6", TemplateBody=VPC_WITH_IPV6)
    stack = settled_stack(cfn, "vpc6")
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, "vpc6")
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    [vpc_block] = out["VpcBlocks"].split(",")
    assert vpc_block.endswith("00::/56"), vpc_block
    # The subnet's block is the first /64 of the VPC's /56.
    assert out["SubnetBlocks"] == vpc_block.replace("/56", "/64")
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cfn.describe_stack_resources(StackName="vpc6")["StackResources"]}
    primary, added = out["Associations"].split(",")
    assert primary.startswith("vpc-cidr-assoc-")
    # The association's id (the block's physical id is `assoc-id|vpc-id`).
    assert physical["SecondIpv4"].split("|")[0] == added != primary
    # Without the blocks the lists are the VPC's own again.
    template = VPC_WITH_IPV6.split("  Ipv6Block:")[0] + '''Outputs:
  VpcBlocks:
    Value: !Join [",", !GetAtt Vpc.Ipv6CidrBlocks]
  Associations:
    Value: !Join [",", !GetAtt Vpc.CidrBlockAssociations]
'''
    cfn.update_stack(StackName="vpc6", TemplateBody=template)
    stack = settled_stack(cfn, "vpc6")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", events(cfn, "vpc6")
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert out == {"VpcBlocks": "", "Associations": primary}


DRIFT_TEMPLATE = fixture("drift-stack.yaml")


def drifts(cfn, stack, *filters):
    """DescribeStackResourceDrifts (every page) as {logical id: drift}."""
    kw = {"StackResourceDriftStatusFilters": list(filters)} if filters else {}
    out, token = {}, None
    while True:
        page = cfn.describe_stack_resource_drifts(StackName=stack, MaxResults=2, **kw,
                                                  **({"NextToken": token} if token else {}))
        out.update({d["LogicalResourceId"]: d for d in page["StackResourceDrifts"]})
        token = page.get("NextToken")
        if not token:
            return out


def test_drift_detection_compares_live_resources_property_by_property(cfn, ssm, s3, sc, server):
    logs = client("logs", server.url)
    cfn.create_stack(StackName="drifty", TemplateBody=DRIFT_TEMPLATE, Tags=[{"Key": "stack-tag", "Value": "x"}])
    assert settled_stack(cfn, "drifty")["StackStatus"] == "CREATE_COMPLETE", events(cfn, "drifty")
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cfn.describe_stack_resources(StackName="drifty")["StackResources"]}
    stack = cfn.describe_stacks(StackName="drifty")["Stacks"][0]
    assert stack["DriftInformation"] == {"StackDriftStatus": "NOT_CHECKED"}

    # Nothing changed yet: in sync, and the schema-recorded topic is not checked.
    first = cfn.detect_stack_drift(StackName="drifty")["StackDriftDetectionId"]
    status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=first)
    assert (status["DetectionStatus"], status["StackDriftStatus"], status["DriftedStackResourceCount"]) == \
        ("DETECTION_COMPLETE", "IN_SYNC", 0)
    assert {k: d["StackResourceDriftStatus"] for k, d in drifts(cfn, "drifty").items()} == {
        "Param": "IN_SYNC", "Doomed": "IN_SYNC", "Bucket": "IN_SYNC", "Logs": "IN_SYNC",
        "Portfolio": "IN_SYNC", "Topic": "NOT_CHECKED"}

    # Change things behind the stack's back, through the services' own APIs.
    ssm.put_parameter(Name=physical["Param"], Value="changed", Type="String", Overwrite=True)
    ssm.delete_parameter(Name=physical["Doomed"])
    s3.put_bucket_tagging(Bucket=physical["Bucket"], Tagging={"TagSet": [
        {"Key": "env", "Value": "prod"}, {"Key": "added", "Value": "1"}]})
    logs.put_retention_policy(logGroupName=physical["Logs"], retentionInDays=30)
    sc.delete_portfolio(Id=physical["Portfolio"])

    second = cfn.detect_stack_drift(StackName="drifty")["StackDriftDetectionId"]
    assert second != first
    status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=second)
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("DRIFTED", 5)
    found = drifts(cfn, "drifty")
    diffs = {k: [(p["PropertyPath"], p["DifferenceType"], p["ExpectedValue"], p["ActualValue"])
                 for p in d["PropertyDifferences"]] for k, d in found.items()}
    assert found["Param"]["StackResourceDriftStatus"] == "MODIFIED"
    assert diffs["Param"] == [("/Value", "NOT_EQUAL", "expected", "changed")]
    assert json_of(found["Param"]["ActualProperties"])["Value"] == "changed"
    assert found["Doomed"]["StackResourceDriftStatus"] == "DELETED"
    assert diffs["Bucket"] == [
        ("/Tags/0/Value", "NOT_EQUAL", "dev", "prod"),
        ("/Tags/1", "REMOVE", '{"Key":"owner","Value":"me"}', ""),
        ("/Tags/2", "ADD", "", '{"Key":"added","Value":"1"}'),
    ]
    assert diffs["Logs"] == [("/RetentionInDays", "NOT_EQUAL", "7", "30")]
    assert found["Portfolio"]["StackResourceDriftStatus"] == "DELETED"
    assert set(drifts(cfn, "drifty", "MODIFIED")) == {"Param", "Bucket", "Logs"}
    assert set(drifts(cfn, "drifty", "DELETED", "NOT_CHECKED")) == {"Doomed", "Portfolio", "Topic"}

    # DescribeStacks and the resource listings show the verdicts.
    stack = cfn.describe_stacks(StackName="drifty")["Stacks"][0]
    assert stack["DriftInformation"]["StackDriftStatus"] == "DRIFTED"
    assert "LastCheckTimestamp" in stack["DriftInformation"]
    listed = {r["LogicalResourceId"]: r["DriftInformation"]["StackResourceDriftStatus"]
              for r in cfn.list_stack_resources(StackName="drifty")["StackResourceSummaries"]}
    assert listed["Doomed"] == "DELETED" and listed["Topic"] == "NOT_CHECKED"

    # One resource: put the value back and check it alone.
    ssm.put_parameter(Name=physical["Param"], Value="expected", Type="String", Overwrite=True)
    one = cfn.detect_stack_resource_drift(StackName="drifty", LogicalResourceId="Param")["StackResourceDrift"]
    assert one["StackResourceDriftStatus"] == "IN_SYNC" and one["PropertyDifferences"] == []
    detail = cfn.describe_stack_resource(StackName="drifty", LogicalResourceId="Param")["StackResourceDetail"]
    assert detail["DriftInformation"]["StackResourceDriftStatus"] == "IN_SYNC"

    # AWS's errors: an unknown resource, an unknown detection id.
    with pytest.raises(ClientError) as e:
        cfn.detect_stack_drift(StackName="drifty", LogicalResourceIds=["Nope"])
    assert e.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as e:
        cfn.describe_stack_drift_detection_status(StackDriftDetectionId="00000000-0000-0000-0000-000000000000")
    assert e.value.response["Error"]["Code"] == "ValidationError"


PROTECTED = '''Parameters:
  V:
    Type: String
    Default: one
Resources:
  Guarded:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Ref V
  Free:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Ref V
'''
ALLOW_ALL_BUT_GUARDED = json.dumps({"Statement": [
    {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
    {"Effect": "Deny", "Action": "Update:*", "Principal": "*", "Resource": "LogicalResourceId/Guarded"},
]})


def test_stack_policies_guard_updates(cfn):
    cfn.create_stack(StackName="guarded", TemplateBody=PROTECTED, StackPolicyBody=ALLOW_ALL_BUT_GUARDED)
    assert settled_stack(cfn, "guarded")["StackStatus"] == "CREATE_COMPLETE"
    assert json.loads(cfn.get_stack_policy(StackName="guarded")["StackPolicyBody"]) == \
        json.loads(ALLOW_ALL_BUT_GUARDED)

    # The policy denies the update of Guarded: the update fails there and rolls back.
    cfn.update_stack(StackName="guarded", TemplateBody=PROTECTED,
                     Parameters=[{"ParameterKey": "V", "ParameterValue": "two"}])
    assert settled_stack(cfn, "guarded")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    [reason] = [r for lid, status, r in events(cfn, "guarded") if lid == "Guarded" and status == "UPDATE_FAILED"]
    assert reason == ("Action denied by stack policy: Statement [#2] does not allow [Update:Modify] "
                      "for resource [LogicalResourceId/Guarded]")

    # A policy for the update alone lets it through, and the stack's policy stays.
    allow_all = json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]})
    cfn.update_stack(StackName="guarded", TemplateBody=PROTECTED, StackPolicyDuringUpdateBody=allow_all,
                     Parameters=[{"ParameterKey": "V", "ParameterValue": "two"}])
    assert settled_stack(cfn, "guarded")["StackStatus"] == "UPDATE_COMPLETE", events(cfn, "guarded")
    assert "Deny" in cfn.get_stack_policy(StackName="guarded")["StackPolicyBody"]

    # A policy with no Allow protects everything, removals included.
    cfn.set_stack_policy(StackName="guarded", StackPolicyBody=json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "Update:Modify", "Principal": "*", "Resource": "LogicalResourceId/Free"}]}))
    cfn.update_stack(StackName="guarded", TemplateBody=PROTECTED.split("  Free:")[0],
                     Parameters=[{"ParameterKey": "V", "ParameterValue": "two"}])
    stack = settled_stack(cfn, "guarded")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert "no statement allows [Update:Delete] for resource [LogicalResourceId/Free]" in \
        [r for lid, status, r in events(cfn, "guarded") if status == "UPDATE_ROLLBACK_IN_PROGRESS"][-1]

    # Malformed policies are refused as CloudFormation refuses them.
    for bad in ["{", json.dumps({"Statement": [{"Effect": "Allow", "Action": "Delete", "Principal": "*",
                                                "Resource": "*"}]})]:
        with pytest.raises(ClientError) as e:
            cfn.set_stack_policy(StackName="guarded", StackPolicyBody=bad)
        assert e.value.response["Error"]["Code"] == "ValidationError"
        assert e.value.response["Error"]["Message"].startswith("Error validating stack policy")


def test_termination_protection(cfn):
    cfn.create_stack(StackName="kept", TemplateBody=PROTECTED, EnableTerminationProtection=True)
    assert settled_stack(cfn, "kept")["EnableTerminationProtection"] is True
    with pytest.raises(ClientError) as e:
        cfn.delete_stack(StackName="kept")
    assert e.value.response["Error"]["Message"] == \
        "Stack [kept] cannot be deleted while TerminationProtection is enabled"
    stack_id = cfn.update_termination_protection(StackName="kept", EnableTerminationProtection=False)["StackId"]
    assert cfn.describe_stacks(StackName="kept")["Stacks"][0]["EnableTerminationProtection"] is False
    cfn.delete_stack(StackName="kept")
    assert settled_stack(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"


def test_drift_of_a_lambda_function(cfn, server):
    awslambda = client("lambda", server.url)
    cfn.create_stack(StackName="fn-drift", TemplateBody=json.dumps({"Resources": {"Fn": {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Runtime": "python3.12", "Handler": "index.handler", "Timeout": 10,
                       "Role": "arn:aws:iam::000000000000:role/fn",
                       "Code": {"ZipFile": "def handler(e, c):\n    return e\n"}}}}}))
    assert settled_stack(cfn, "fn-drift")["StackStatus"] == "CREATE_COMPLETE", events(cfn, "fn-drift")
    name = cfn.describe_stack_resource(StackName="fn-drift", LogicalResourceId="Fn")[
        "StackResourceDetail"]["PhysicalResourceId"]
    drift = cfn.detect_stack_resource_drift(StackName="fn-drift", LogicalResourceId="Fn")["StackResourceDrift"]
    assert drift["StackResourceDriftStatus"] == "IN_SYNC", drift["PropertyDifferences"]
    awslambda.update_function_configuration(FunctionName=name, Timeout=30, Environment={"Variables": {"STAGE": "prod"}})
    drift = cfn.detect_stack_resource_drift(StackName="fn-drift", LogicalResourceId="Fn")["StackResourceDrift"]
    assert drift["StackResourceDriftStatus"] == "MODIFIED"
    assert [(p["PropertyPath"], p["DifferenceType"]) for p in drift["PropertyDifferences"]] == [
        ("/Timeout", "NOT_EQUAL"), ("/Environment", "ADD")]
