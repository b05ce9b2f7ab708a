"""The MLOps loop end to end, with boto3 against the real binary: the reference MLOps
template (examples/mlops) deployed as a stack, a model version registered, approved and
rejected in its model package group, and what EventBridge starts from that: the deploy
pipeline (on approval only), and a Lambda function that receives the transformed input
of a rule written with the `anything-but: PendingManualApproval` pattern that also fires
on rejections. Then delivery across `kill -9`."""
import json
import os
import time

import pytest

from conftest import REPO, Server, client, settled_stack
from test_lambda import zip_of

TEMPLATE = os.path.join(REPO, "examples", "mlops", "mlops-template.yaml")
ROLE = "arn:aws:iam::000000000000:role/events"
SPEC = {
    "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1",
                    "ModelDataUrl": "s3://models/churn/model.tar.gz"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}
# Writes what it received to SSM, one parameter per approval status it saw.
RECORDER = """
import boto3, json
def handler(event, context):
    boto3.client("ssm").put_parameter(
        Name="/mlops/seen/" + event["status"], Value=json.dumps(event),
        Type="String", Overwrite=True)
"""


def until(check, timeout=10.0, poll=0.02):
    """Polls `check()` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(poll)


def event_runs(cp, pipeline):
    """The executions of `pipeline` that an EventBridge rule started, oldest first."""
    pages = cp.get_paginator("list_pipeline_executions").paginate(pipelineName=pipeline)
    runs = [e for p in pages for e in p["pipelineExecutionSummaries"]]
    return [r for r in reversed(runs) if r["trigger"]["triggerType"] == "CloudWatchEvent"]


@pytest.fixture
def loop(lambda_server):
    """The MLOps stack deployed on a server whose functions run on this interpreter."""
    url = lambda_server.url
    cfn = client("cloudformation", url)
    with open(TEMPLATE) as f:
        cfn.create_stack(StackName="mlops", TemplateBody=f.read(),
                         Capabilities=["CAPABILITY_NAMED_IAM"],
                         Parameters=[{"ParameterKey": "SageMakerProjectName", "ParameterValue": "churn"},
                                     {"ParameterKey": "SageMakerProjectId", "ParameterValue": "p-abc123"}])
    stack = settled_stack(cfn, "mlops")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    return lambda_server, outputs


def test_approval_starts_the_deploy_pipeline_and_only_approval(loop):
    server, outputs = loop
    sm, cp, ev = (client(s, server.url) for s in ("sagemaker", "codepipeline", "events"))
    group = "churn-p-abc123"
    build, deploy = outputs["PipelineName"], outputs["DeployPipelineName"]
    deploy_rule = ev.describe_rule(Name=f"sagemaker-{group}-deploy")
    build_rule = ev.describe_rule(Name=f"sagemaker-{group}-approval")
    assert deploy_rule["State"] == "ENABLED"

    # Registered for manual approval: the build rule (any state change) fires, the deploy
    # rule does not. The build pipeline's run is the barrier that says the event was
    # delivered; the deploy pipeline's lane got the same event at the same time.
    arn = sm.create_model_package(ModelPackageGroupName=group, InferenceSpecification=SPEC,
                                  ModelApprovalStatus="PendingManualApproval")["ModelPackageArn"]
    until(lambda: len(event_runs(cp, build)) == 1)
    time.sleep(0.3)
    assert event_runs(cp, deploy) == []

    # Approved: exactly one deploy run, whose trigger names the deploy rule.
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    runs = until(lambda: event_runs(cp, deploy))
    until(lambda: len(event_runs(cp, build)) == 2)
    time.sleep(0.3)
    runs = event_runs(cp, deploy)
    assert len(runs) == 1
    assert runs[0]["trigger"]["triggerDetail"] == deploy_rule["Arn"]
    assert runs[0]["status"] == "Succeeded"
    execution = cp.get_pipeline_execution(pipelineName=deploy,
                                          pipelineExecutionId=runs[0]["pipelineExecutionId"])
    assert execution["pipelineExecution"]["trigger"]["triggerDetail"] == deploy_rule["Arn"]
    state = cp.get_pipeline_state(name=deploy)
    assert [s["stageName"] for s in state["stageStates"]] == ["Source", "DeployStaging"]
    assert build_rule["Arn"] in {r["trigger"]["triggerDetail"] for r in event_runs(cp, build)}

    # Rejected: no further deploy run.
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    until(lambda: len(event_runs(cp, build)) == 3)
    time.sleep(0.3)
    assert len(event_runs(cp, deploy)) == 1


def test_a_lambda_target_receives_the_transformed_input(loop):
    server, _ = loop
    sm, ev, lam, ssm = (client(s, server.url) for s in ("sagemaker", "events", "lambda", "ssm"))
    group = "churn-p-abc123"
    fn = lam.create_function(FunctionName="recorder", Runtime="python3.12", Role=ROLE,
                             Handler="app.handler", Code={"ZipFile": zip_of({"app.py": RECORDER})},
                             Timeout=30)["FunctionArn"]
    # The pattern users write and regret: it keeps PendingManualApproval out, and lets
    # Rejected in.
    pattern = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
               "detail": {"ModelPackageGroupName": [group],
                          "ModelApprovalStatus": [{"anything-but": "PendingManualApproval"}]}}
    rule_arn = ev.put_rule(Name="notify", EventPattern=json.dumps(pattern))["RuleArn"]
    template = ('{"package": <arn>, "status": <status>, "version": <version>, '
                '"rule": <aws.events.rule-name>, "text": "v<version> is <status>"}')
    put = ev.put_targets(Rule="notify", Targets=[{
        "Id": "recorder", "Arn": fn,
        "InputTransformer": {"InputPathsMap": {"arn": "$.detail.ModelPackageArn",
                                               "status": "$.detail.ModelApprovalStatus",
                                               "version": "$.detail.ModelPackageVersion"},
                             "InputTemplate": template}}])
    assert put["FailedEntryCount"] == 0

    arn = sm.create_model_package(ModelPackageGroupName=group, InferenceSpecification=SPEC,
                                  ModelApprovalStatus="PendingManualApproval")["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    seen = until(lambda: parameter(ssm, "/mlops/seen/Approved"), timeout=30)
    assert json.loads(seen) == {"package": arn, "status": "Approved", "version": 1,
                                "rule": "notify", "text": "v1 is Approved"}
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    assert json.loads(until(lambda: parameter(ssm, "/mlops/seen/Rejected"), timeout=30))["status"] == "Rejected"
    assert parameter(ssm, "/mlops/seen/PendingManualApproval") is None
    stats = json.load(urlopen(server.url + "/_sagestack/events/stats"))
    counts = stats["000000000000"]["rules"][rule_arn]
    assert counts["matched"] == 2
    assert counts["targets"]["recorder"]["delivered"] == 2


def parameter(ssm, name):
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def urlopen(url):
    import urllib.request
    return urllib.request.urlopen(url, timeout=5)


@pytest.mark.durable_only("kills the server and delivers from its data directory")
def test_accepted_events_survive_kill_9(data_dir):
    """Events PutEvents accepted and the delivery task had not yet taken to their
    target are delivered by the next process (at least once)."""
    server = Server(data_dir).start()
    cp, ev = client("codepipeline", server.url), client("events", server.url)
    cp.create_pipeline(pipeline={
        "name": "deploy", "roleArn": "arn:aws:iam::000000000000:role/p",
        "artifactStore": {"type": "S3", "location": "artifacts"},
        "stages": [{"name": "Source", "actions": [{"name": "S", "actionTypeId": {
            "category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
            "configuration": {"S3Bucket": "b", "S3ObjectKey": "k"},
            "outputArtifacts": [{"name": "out"}]}]},
            {"name": "Deploy", "actions": [{"name": "D", "actionTypeId": {
                "category": "Deploy", "owner": "AWS", "provider": "S3", "version": "1"},
                "configuration": {"BucketName": "b", "Extract": "false", "ObjectKey": "x"},
                "inputArtifacts": [{"name": "out"}]}]}]})
    ev.put_rule(Name="all-orders", EventPattern=json.dumps({"source": ["shop"]}))
    ev.put_targets(Rule="all-orders", Targets=[{
        "Id": "deploy", "Arn": "arn:aws:codepipeline:us-east-1:000000000000:deploy"}])
    total = 1000
    for start in range(0, total, 10):
        out = ev.put_events(Entries=[{"Source": "shop", "DetailType": "order",
                                      "Detail": json.dumps({"n": n})}
                                     for n in range(start, start + 10)])
        assert out["FailedEntryCount"] == 0
    before = len(event_runs(cp, "deploy"))
    server.kill9()
    assert before < total, "every event was delivered before the kill: the test proved nothing"

    server = Server(data_dir).start()
    try:
        cp = client("codepipeline", server.url)
        # What is checked is that every accepted event is delivered, not how fast: a
        # debug build next to the suite's Terraform/CDK workers on two cores took over
        # 60 s for the thousand runs (session 20, reproduced with three busy loops).
        until(lambda: len(event_runs(cp, "deploy")) >= total, timeout=240, poll=0.2)
    finally:
        server.stop()
