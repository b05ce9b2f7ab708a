"""CodePipeline and CodeBuild against the real binary with boto3: definitions are kept
(a stack's AWS::CodePipeline::Pipeline and AWS::CodeBuild::Project become real ones),
runs are recorded, never executed (Succeeded at once, saying so), with who started them,
and errors answer in AWS's codes. The stack's deletion takes both away."""
import json

import pytest

from conftest import client, code, settled_stack

ROLE = "arn:aws:iam::123456789012:role/service-role/deploy"
# The test server's account (--account-id's default).
ACCOUNT = "000000000000"
NOT_EXECUTED = "sagestack records pipeline runs; actions are not executed"
BUILD_NOT_EXECUTED = "sagestack records builds; the build was not executed"

TEMPLATE = {
    "Resources": {
        "DeployProject": {
            "Type": "AWS::CodeBuild::Project",
            "Properties": {
                "ServiceRole": ROLE,
                "Source": {"Type": "CODEPIPELINE", "BuildSpec": "version: 0.2"},
                "Artifacts": {"Type": "CODEPIPELINE"},
                "Environment": {
                    "Type": "LINUX_CONTAINER",
                    "Image": "aws/codebuild/standard:7.0",
                    "ComputeType": "BUILD_GENERAL1_SMALL",
                    "EnvironmentVariables": [{"Name": "STAGE", "Value": "staging"}],
                },
                "TimeoutInMinutes": "30",
                "Tags": [{"Key": "team", "Value": "ml"}],
            },
        },
        "DeployPipeline": {
            "Type": "AWS::CodePipeline::Pipeline",
            "Properties": {
                "Name": "model-deploy",
                "RoleArn": ROLE,
                "ArtifactStore": {"Type": "S3", "Location": "artifacts"},
                "RestartExecutionOnUpdate": False,
                "Stages": [
                    {"Name": "Source", "Actions": [{
                        "Name": "ModelSource",
                        "ActionTypeId": {"Category": "Source", "Owner": "AWS",
                                         "Provider": "S3", "Version": "1"},
                        "Configuration": {"S3Bucket": "artifacts", "S3ObjectKey": "model.zip",
                                          "PollForSourceChanges": "false"},
                        "OutputArtifacts": [{"Name": "SourceArtifact"}],
                    }]},
                    {"Name": "Build", "Actions": [{
                        "Name": "BuildDeployment",
                        "ActionTypeId": {"Category": "Build", "Owner": "AWS",
                                         "Provider": "CodeBuild", "Version": "1"},
                        "Configuration": {"ProjectName": {"Ref": "DeployProject"}},
                        "InputArtifacts": [{"Name": "SourceArtifact"}],
                        "RunOrder": 1,
                    }]},
                ],
                "Tags": [{"Key": "team", "Value": "ml"}],
            },
        },
    },
    "Outputs": {
        "PipelineName": {"Value": {"Ref": "DeployPipeline"}},
        "PipelineVersion": {"Value": {"Fn::GetAtt": ["DeployPipeline", "Version"]}},
        "ProjectName": {"Value": {"Ref": "DeployProject"}},
        "ProjectArn": {"Value": {"Fn::GetAtt": ["DeployProject", "Arn"]}},
    },
}


@pytest.fixture
def stack(server, cfn):
    """The deploy stack, created; its outputs by key, and its id."""
    cfn.create_stack(StackName="deploy", TemplateBody=json.dumps(TEMPLATE))
    s = settled_stack(cfn, "deploy")
    assert s["StackStatus"] == "CREATE_COMPLETE", s.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in s["Outputs"]} | {"StackId": s["StackId"]}


def test_a_stack_declares_a_pipeline_and_a_build_project(server, stack):
    cp = client("codepipeline", server.url)
    cb = client("codebuild", server.url)
    assert stack["PipelineName"] == "model-deploy"
    assert stack["PipelineVersion"] == "1"
    project = stack["ProjectName"]
    assert project.startswith("DeployProject-")
    assert stack["ProjectArn"] == f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/{project}"

    got = cp.get_pipeline(name="model-deploy")
    assert got["metadata"]["pipelineArn"] == f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:model-deploy"
    stages = got["pipeline"]["stages"]
    assert [s["name"] for s in stages] == ["Source", "Build"]
    build_action = stages[1]["actions"][0]
    assert build_action["actionTypeId"]["provider"] == "CodeBuild"
    assert build_action["configuration"]["ProjectName"] == project
    assert got["pipeline"]["artifactStore"] == {"type": "S3", "location": "artifacts"}
    names = [p["name"] for p in cp.list_pipelines()["pipelines"]]
    assert names == ["model-deploy"]
    arn = got["metadata"]["pipelineArn"]
    assert {"key": "team", "value": "ml"} in cp.list_tags_for_resource(resourceArn=arn)["tags"]

    projects = cb.batch_get_projects(names=[project, "absent"])
    assert projects["projectsNotFound"] == ["absent"]
    p = projects["projects"][0]
    assert (p["timeoutInMinutes"], p["source"]["buildspec"]) == (30, "version: 0.2")
    assert p["environment"]["environmentVariables"] == [{"name": "STAGE", "value": "staging"}]
    assert cb.list_projects()["projects"] == [project]

    # Creating the pipeline started it once, as AWS does.
    runs = cp.list_pipeline_executions(pipelineName="model-deploy")["pipelineExecutionSummaries"]
    assert [r["trigger"]["triggerType"] for r in runs] == ["CreatePipeline"]


def test_a_start_is_recorded_succeeded_with_its_stages_actions_and_trigger(server, stack):
    cp = client("codepipeline", server.url)
    started = cp.start_pipeline_execution(name="model-deploy")["pipelineExecutionId"]
    e = cp.get_pipeline_execution(pipelineName="model-deploy",
                                  pipelineExecutionId=started)["pipelineExecution"]
    assert e["status"] == "Succeeded"
    assert e["statusSummary"] == NOT_EXECUTED
    assert e["pipelineVersion"] == 1
    assert e["trigger"]["triggerType"] == "StartPipelineExecution"
    assert e["trigger"]["triggerDetail"].startswith(f"arn:aws:iam::{ACCOUNT}:")

    state = cp.get_pipeline_state(name="model-deploy")
    assert [s["stageName"] for s in state["stageStates"]] == ["Source", "Build"]
    for stage in state["stageStates"]:
        assert stage["latestExecution"] == {"pipelineExecutionId": started,
                                            "status": "Succeeded", "type": "STANDARD"}
        (action,) = stage["actionStates"]
        assert action["latestExecution"]["status"] == "Succeeded"
        assert action["latestExecution"]["summary"] == NOT_EXECUTED

    runs = cp.list_pipeline_executions(pipelineName="model-deploy")["pipelineExecutionSummaries"]
    assert [r["pipelineExecutionId"] for r in runs][0] == started
    assert len(runs) == 2

    with pytest.raises(cp.exceptions.PipelineExecutionNotStoppableException):
        cp.stop_pipeline_execution(pipelineName="model-deploy", pipelineExecutionId=started)


def test_start_build_is_recorded_and_read_back(server, stack):
    cb = client("codebuild", server.url)
    project = stack["ProjectName"]
    build = cb.start_build(
        projectName=project,
        environmentVariablesOverride=[{"name": "STAGE", "value": "prod", "type": "PLAINTEXT"}],
    )["build"]
    assert build["id"].startswith(f"{project}:")
    got = cb.batch_get_builds(ids=[build["id"], f"{project}:00000000-0000-0000-0000-000000000000"])
    assert len(got["buildsNotFound"]) == 1
    b = got["builds"][0]
    assert (b["buildStatus"], b["currentPhase"], b["buildComplete"]) == ("SUCCEEDED", "COMPLETED", True)
    assert b["buildNumber"] == 1
    assert b["initiator"]
    assert b["environment"]["environmentVariables"] == [
        {"name": "STAGE", "value": "prod", "type": "PLAINTEXT"}]
    phases = {p["phaseType"]: p for p in b["phases"]}
    assert phases["BUILD"]["phaseStatus"] == "SUCCEEDED"
    assert phases["BUILD"]["contexts"][0]["message"] == BUILD_NOT_EXECUTED
    second = cb.start_build(projectName=project)["build"]
    assert second["buildNumber"] == 2
    assert cb.list_builds_for_project(projectName=project)["ids"] == [second["id"], build["id"]]


def test_update_project_changes_only_the_members_given(server):
    cb = client("codebuild", server.url)
    made = cb.create_project(
        name="upd", serviceRole=ROLE, description="first",
        source={"type": "NO_SOURCE", "buildspec": "version: 0.2"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"},
        tags=[{"key": "team", "value": "ml"}])["project"]
    changed = cb.update_project(
        name="upd", description="second", timeoutInMinutes=30,
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL",
                     "environmentVariables": [{"name": "STAGE", "value": "prod"}]},
        tags=[{"key": "team", "value": "ops"}])["project"]
    assert (changed["description"], changed["timeoutInMinutes"]) == ("second", 30)
    assert changed["environment"]["environmentVariables"] == [{"name": "STAGE", "value": "prod"}]
    assert changed["tags"] == [{"key": "team", "value": "ops"}]
    assert changed["source"] == {"type": "NO_SOURCE", "buildspec": "version: 0.2"}, "kept"
    assert changed["created"] == made["created"]
    assert cb.batch_get_projects(names=["upd"])["projects"][0] == changed
    with pytest.raises(cb.exceptions.ResourceNotFoundException) as e:
        cb.update_project(name="absent", description="x")
    assert e.value.response["Error"]["Message"] == (
        f"Project cannot be found: arn:aws:codebuild:us-east-1:{ACCOUNT}:project/absent")
    with pytest.raises(cb.exceptions.InvalidInputException):
        client("codebuild", server.url, validate=False).update_project(
            name="upd", timeoutInMinutes=2)


def test_pipeline_tags_are_added_replaced_and_removed(server, stack):
    cp = client("codepipeline", server.url)
    arn = f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:model-deploy"
    cp.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "ops"},
                                           {"key": "stage", "value": "dev"}])
    tags = {t["key"]: t["value"] for t in cp.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert (tags["team"], tags["stage"]) == ("ops", "dev")
    cp.untag_resource(resourceArn=arn, tagKeys=["stage"])
    tags = {t["key"]: t["value"] for t in cp.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert "stage" not in tags and tags["team"] == "ops"
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.list_tags_for_resource(
            resourceArn=f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:absent")


def test_errors_answer_in_aws_codes(server):
    cp = client("codepipeline", server.url)
    cb = client("codebuild", server.url)
    cp_raw = client("codepipeline", server.url, validate=False)
    cb_raw = client("codebuild", server.url, validate=False)
    for call in (lambda: cp.get_pipeline(name="absent"),
                 lambda: cp.start_pipeline_execution(name="absent"),
                 lambda: cp.get_pipeline_state(name="absent"),
                 lambda: cp.list_pipeline_executions(pipelineName="absent")):
        with pytest.raises(cp.exceptions.PipelineNotFoundException) as e:
            call()
        assert "does not have a pipeline with name 'absent'" in e.value.response["Error"]["Message"]
    with pytest.raises(cp.exceptions.ClientError) as e:
        cp_raw.get_pipeline(name="has space")
    assert code(e) == "ValidationException"

    with pytest.raises(cb.exceptions.ResourceNotFoundException) as e:
        cb.start_build(projectName="absent")
    assert e.value.response["Error"]["Message"] == (
        f"Project cannot be found: arn:aws:codebuild:us-east-1:{ACCOUNT}:project/absent")
    with pytest.raises(cb.exceptions.ResourceNotFoundException):
        cb.list_builds_for_project(projectName="absent")
    with pytest.raises(cb.exceptions.InvalidInputException):
        cb_raw.batch_get_projects(names=[])


def test_the_stack_deletion_takes_both_away(server, cfn, stack):
    cp = client("codepipeline", server.url)
    cb = client("codebuild", server.url)
    cfn.delete_stack(StackName="deploy")
    assert settled_stack(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert cp.list_pipelines()["pipelines"] == []
    with pytest.raises(cp.exceptions.PipelineNotFoundException):
        cp.get_pipeline(name="model-deploy")
    assert cb.batch_get_projects(names=[stack["ProjectName"]])["projectsNotFound"] == [stack["ProjectName"]]
    assert cb.list_projects()["projects"] == []
