"""`AWS::SageMaker::Project` in a stack is a real project (issue #23): made by
CreateProject's rules, provisioned by the provisioner (its own `SP-` stack), failing the
resource with the project's reason, and deleted with the stack."""
import json

from conftest import fixture, put_template, settled_stack
from conftest import stack_events as events


def project_stack(details):
    return json.dumps({
        "Resources": {"Project": {"Type": "AWS::SageMaker::Project", "Properties": {
            "ProjectName": "from-cfn", "ProjectDescription": "made by a stack",
            "Tags": [{"Key": "team", "Value": "ml"}], **details}}},
        "Outputs": {
            "Arn": {"Value": {"Ref": "Project"}},
            "Id": {"Value": {"Fn::GetAtt": ["Project", "ProjectId"]}},
            "Status": {"Value": {"Fn::GetAtt": ["Project", "ProjectStatus"]}},
        }})


def test_a_stacks_project_is_provisioned_and_deleted_with_it(cfn, s3, sm):
    put_template(s3, "templates", "project.yaml", fixture("project-bucket.yaml"))
    details = {"TemplateProviderDetails": [{"CfnTemplateProviderDetail": {
        "TemplateName": "pipeline",
        "TemplateURL": "https://templates.s3.amazonaws.com/project.yaml",
        "Parameters": [{"Key": "Stage", "Value": "prod"}]}}]}
    cfn.create_stack(StackName="with-project", TemplateBody=project_stack(details))
    stack = settled_stack(cfn, "with-project", timeout=60)
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, "with-project")
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    project = sm.describe_project(ProjectName="from-cfn")
    assert out == {"Arn": project["ProjectArn"], "Id": project["ProjectId"], "Status": "CreateCompleted"}
    assert project["ProjectStatus"] == "CreateCompleted"
    assert project["ProjectDescription"] == "made by a stack"
    tags = sm.list_tags(ResourceArn=project["ProjectArn"])["Tags"]
    assert {"Key": "team", "Value": "ml"} in tags
    # The project's own stack is a stack of its own, with the parameter given.
    sp = f"SP-{project['ProjectId']}-pipeline"
    sp_stack = cfn.describe_stacks(StackName=sp)["Stacks"][0]
    assert sp_stack["StackStatus"] == "CREATE_COMPLETE"
    assert {"ParameterKey": "Stage", "ParameterValue": "prod"} in sp_stack["Parameters"]

    cfn.delete_stack(StackName="with-project")
    gone = settled_stack(cfn, stack["StackId"], timeout=60)
    assert gone["StackStatus"] == "DELETE_COMPLETE", events(cfn, stack["StackId"])
    assert cfn.describe_stacks(StackName=sp_stack["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    names = [p["ProjectName"] for p in sm.list_projects()["ProjectSummaryList"]]
    assert "from-cfn" not in names


def test_a_project_that_fails_fails_its_resource_with_its_reason(cfn, sm):
    details = {"ServiceCatalogProvisioningDetails": {
        "ProductId": "prod-abcdefghijklm", "ProvisioningArtifactId": "pa-abcdefghijklm"}}
    cfn.create_stack(StackName="bad-project", TemplateBody=project_stack(details))
    stack = settled_stack(cfn, "bad-project", timeout=60)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    [reason] = [r for lid, status, r in events(cfn, "bad-project") if lid == "Project" and status == "CREATE_FAILED"]
    assert reason.startswith("Project from-cfn failed to create: "), reason
    assert "prod-abcdefghijklm" in reason
    # Nothing of the failed project stays behind.
    names = [p["ProjectName"] for p in sm.list_projects()["ProjectSummaryList"]]
    assert "from-cfn" not in names


def test_invalid_project_properties_are_refused_as_create_project_refuses_them(cfn):
    cfn.create_stack(StackName="invalid-project", TemplateBody=project_stack({
        "ServiceCatalogProvisioningDetails": {"ProductId": "prod-abcdefghijklm"},
        "TemplateProviderDetails": [{"CfnTemplateProviderDetail": {
            "TemplateName": "t", "TemplateURL": "https://templates.s3.amazonaws.com/x.yaml"}}]}))
    stack = settled_stack(cfn, "invalid-project", timeout=60)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    [reason] = [r for lid, status, r in events(cfn, "invalid-project") if status == "CREATE_FAILED"]
    assert "Exactly one of ServiceCatalogProvisioningDetails and TemplateProviders" in reason
