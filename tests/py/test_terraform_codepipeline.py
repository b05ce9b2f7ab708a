"""Terraform (hashicorp/aws 5.100.0) against the CodeBuild and CodePipeline APIs
(issue #22): an `aws_codebuild_project` (no source, inline buildspec, no artifacts, a
Linux container, environment variables, tags), a second one with CODEPIPELINE source
and artifacts, and a V2 `aws_codepipeline` (S3 artifact store, a pipeline variable, an
S3 source stage, a build stage naming the second project, tags) applied to a fresh
server, planned again (no changes), changed in place (the project's description,
timeout, variables and tags; the pipeline's source key, variable default and tags),
planned again and destroyed.

Each step is checked through boto3, not only by Terraform's exit status: Terraform
trusts what the server reads back, so a server that forgot a write would pass a
Terraform-only test.
"""
import pytest
from botocore.exceptions import ClientError

import terraform_kit
from conftest import client

ACCOUNT = "000000000000"
PROJECT = "tf-build"
PIPELINE = "tf-pipeline"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/tf-ci"

CONFIG = """
variable "description" { type = string }
variable "timeout" { type = number }
variable "stage" { type = string }
variable "team" { type = string }
variable "source_key" { type = string }

resource "aws_s3_bucket" "artifacts" {
  bucket        = "tf-pipeline-artifacts"
  force_destroy = true
}

resource "aws_codebuild_project" "build" {
  name          = "%(project)s"
  description   = var.description
  build_timeout = var.timeout
  service_role  = "%(role)s"

  source {
    type      = "NO_SOURCE"
    buildspec = "version: 0.2\\nphases:\\n  build:\\n    commands:\\n      - echo hi\\n"
  }
  artifacts {
    type = "NO_ARTIFACTS"
  }
  environment {
    type         = "LINUX_CONTAINER"
    image        = "aws/codebuild/standard:7.0"
    compute_type = "BUILD_GENERAL1_SMALL"
    environment_variable {
      name  = "STAGE"
      value = var.stage
    }
  }
  tags = { team = var.team }
}

resource "aws_codebuild_project" "package" {
  name         = "%(project)s-package"
  service_role = "%(role)s"
  source {
    type      = "CODEPIPELINE"
    buildspec = "version: 0.2"
  }
  artifacts {
    type = "CODEPIPELINE"
  }
  environment {
    type         = "LINUX_CONTAINER"
    image        = "aws/codebuild/standard:7.0"
    compute_type = "BUILD_GENERAL1_SMALL"
  }
}

resource "aws_codepipeline" "pipeline" {
  name           = "%(pipeline)s"
  role_arn       = "%(role)s"
  pipeline_type  = "V2"
  execution_mode = "QUEUED"

  variable {
    name          = "STAGE"
    default_value = var.stage
  }

  artifact_store {
    location = aws_s3_bucket.artifacts.bucket
    type     = "S3"
  }

  stage {
    name = "Source"
    action {
      name             = "Source"
      category         = "Source"
      owner            = "AWS"
      provider         = "S3"
      version          = "1"
      output_artifacts = ["src"]
      configuration = {
        S3Bucket             = aws_s3_bucket.artifacts.bucket
        S3ObjectKey          = var.source_key
        PollForSourceChanges = "false"
      }
    }
  }

  stage {
    name = "Build"
    action {
      name            = "Build"
      category        = "Build"
      owner           = "AWS"
      provider        = "CodeBuild"
      version         = "1"
      input_artifacts = ["src"]
      configuration = {
        ProjectName = aws_codebuild_project.package.name
      }
    }
  }

  tags = { team = var.team }
}

output "project_arn" { value = aws_codebuild_project.build.arn }
output "pipeline_arn" { value = aws_codepipeline.pipeline.arn }
""" % {"project": PROJECT, "pipeline": PIPELINE, "role": ROLE}

FIRST = {"description": "first", "timeout": "60", "stage": "dev", "team": "ml",
         "source_key": "source.zip"}
SECOND = {"description": "second", "timeout": "30", "stage": "prod", "team": "ops",
          "source_key": "v2/source.zip"}


@pytest.fixture(scope="module")
def tf(tmp_path_factory):
    """The working directory and its fresh server, after `terraform init`."""
    with terraform_kit.fresh(tmp_path_factory, "tf-codepipeline", {"main.tf": CONFIG}) as pair:
        yield pair


def project_of(cb):
    got = cb.batch_get_projects(names=[PROJECT])
    assert got["projectsNotFound"] == []
    return got["projects"][0]


def pipeline_of(cp):
    got = cp.get_pipeline(name=PIPELINE)
    tags = cp.list_tags_for_resource(resourceArn=got["metadata"]["pipelineArn"])["tags"]
    return got["pipeline"], got["metadata"], {t["key"]: t["value"] for t in tags}


def test_apply_plan_update_destroy(tf):
    work, server = tf
    cb = client("codebuild", server.url)
    cp = client("codepipeline", server.url)

    work.apply(var=FIRST)
    p = project_of(cb)
    assert p["arn"] == f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/{PROJECT}"
    assert (p["description"], p["timeoutInMinutes"], p["serviceRole"]) == ("first", 60, ROLE)
    assert p["source"]["type"] == "NO_SOURCE"
    assert p["source"]["buildspec"].startswith("version: 0.2\nphases:")
    assert p["artifacts"]["type"] == "NO_ARTIFACTS"
    assert p["environment"]["image"] == "aws/codebuild/standard:7.0"
    assert [(v["name"], v["value"]) for v in p["environment"]["environmentVariables"]] == [
        ("STAGE", "dev")]
    assert p["tags"] == [{"key": "team", "value": "ml"}]

    decl, meta, tags = pipeline_of(cp)
    arn = f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:{PIPELINE}"
    assert meta["pipelineArn"] == arn
    assert work.outputs() == {"project_arn": p["arn"], "pipeline_arn": arn}
    assert decl["roleArn"] == ROLE
    assert decl["artifactStore"] == {"type": "S3", "location": "tf-pipeline-artifacts"}
    assert [s["name"] for s in decl["stages"]] == ["Source", "Build"]
    source = decl["stages"][0]["actions"][0]
    assert source["actionTypeId"] == {"category": "Source", "owner": "AWS",
                                      "provider": "S3", "version": "1"}
    assert source["configuration"]["S3ObjectKey"] == "source.zip"
    assert decl["stages"][1]["actions"][0]["configuration"] == {
        "ProjectName": f"{PROJECT}-package"}
    assert (decl["pipelineType"], decl["executionMode"]) == ("V2", "QUEUED")
    assert decl["variables"] == [{"name": "STAGE", "defaultValue": "dev"}]
    package = cb.batch_get_projects(names=[f"{PROJECT}-package"])["projects"][0]
    assert (package["source"]["type"], package["artifacts"]["type"]) == (
        "CODEPIPELINE", "CODEPIPELINE")
    assert tags == {"team": "ml"}
    version = decl["version"]

    # What the server reads back is what was applied: nothing to change.
    work.plan_no_changes(var=FIRST)

    work.apply(var=SECOND)
    changed = project_of(cb)
    assert changed["created"] == p["created"], "changed in place, not replaced"
    assert (changed["description"], changed["timeoutInMinutes"]) == ("second", 30)
    assert [(v["name"], v["value"]) for v in changed["environment"]["environmentVariables"]] == [
        ("STAGE", "prod")]
    assert changed["tags"] == [{"key": "team", "value": "ops"}]
    decl, meta2, tags = pipeline_of(cp)
    assert meta2["created"] == meta["created"], "changed in place, not replaced"
    assert decl["version"] == version + 1
    assert decl["stages"][0]["actions"][0]["configuration"]["S3ObjectKey"] == "v2/source.zip"
    assert decl["variables"] == [{"name": "STAGE", "defaultValue": "prod"}]
    assert tags == {"team": "ops"}
    work.plan_no_changes(var=SECOND)

    work.destroy(var=SECOND)
    gone = [PROJECT, f"{PROJECT}-package"]
    assert cb.batch_get_projects(names=gone)["projectsNotFound"] == gone
    assert cb.list_projects()["projects"] == []
    with pytest.raises(ClientError) as e:
        cp.get_pipeline(name=PIPELINE)
    assert e.value.response["Error"]["Code"] == "PipelineNotFoundException"
    assert cp.list_pipelines()["pipelines"] == []
