"""The AWS CDK, unchanged, against sagestack (examples/cdk): the CDK CLI and aws-cdk-lib
pinned by examples/cdk/package-lock.json, every call pointed at a fresh server through
AWS_ENDPOINT_URL alone, with credentials the server has never seen.

`cdk bootstrap` makes the CDKToolkit stack (through a change set), `cdk deploy` assumes
the bootstrap roles, publishes the app's assets to the staging bucket and deploys
through a change set, `cdk diff` (which creates a change set to compare with, and
deletes it) finds no difference, or the replacements another parameter value would
make, a second `cdk deploy` with that value and other stack tags updates the stack
(replacing what the new name forces, retagging the rest), and `cdk destroy` removes
the stack and its resources. Each step is checked through boto3.

The example's node_modules come from `npm ci` (scripts/test runs it first; this module
runs it when node_modules is missing or older than the lock file). Without node or npm
this module fails under CI=true and skips otherwise.
"""
import fcntl
import io
import json
import os
import secrets
import shutil
import subprocess
import zipfile

import pytest

from conftest import REPO, Server, client, settled_stack

EXAMPLE = os.path.join(REPO, "examples", "cdk")
NODE = shutil.which("node")
NPM = shutil.which("npm")
STACK = "SagestackCdkExample"
QUALIFIER = "hnb659fds"


_missing = [name for name, found in (("node", NODE), ("npm", NPM)) if not found]
if NODE:
    # aws-cdk-lib 2.278 requires Node.js 20 or later.
    _version = subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout.strip()
    if int(_version.lstrip("v").split(".")[0] or 0) < 20:
        _missing.append(f"Node.js 20 or later (node is {_version})")
if _missing:
    if os.environ.get("CI") == "true":
        raise RuntimeError("the CDK test needs " + " and ".join(_missing) + " under CI")
    pytest.skip("missing " + " and ".join(_missing) + " (the CDK test needs Node.js)",
                allow_module_level=True)


def npm_ci():
    """`npm ci` in examples/cdk unless its node_modules is newer than the lock file;
    one process at a time (pytest -n runs several sessions)."""
    lock_file = os.path.join(EXAMPLE, "package-lock.json")
    installed = os.path.join(EXAMPLE, "node_modules", ".package-lock.json")
    with open(lock_file) as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if os.path.exists(installed) and os.path.getmtime(installed) > os.path.getmtime(lock_file):
            return
        done = subprocess.run([NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                              cwd=EXAMPLE, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm ci in examples/cdk failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A copy of the example (its sources, cdk.json, lock file) beside the shared
    node_modules, so that runs in parallel never write into each other's build."""
    npm_ci()
    root = tmp_path_factory.mktemp("cdk") / "app"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(
        "node_modules", "build", "cdk.out", "cdk.context.json"))
    os.symlink(os.path.join(EXAMPLE, "node_modules"), root / "node_modules")
    return root


@pytest.fixture(scope="module")
def world(app, tmp_path_factory):
    """A fresh server and the environment every `cdk` command runs in."""
    server = Server(str(tmp_path_factory.mktemp("data"))).start()
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        HOME=str(home),
        AWS_ENDPOINT_URL=server.url,
        # Credentials nobody configured anywhere: --auth none takes any pair.
        AWS_ACCESS_KEY_ID="AKIA" + secrets.token_hex(8).upper(),
        AWS_SECRET_ACCESS_KEY=secrets.token_urlsafe(30),
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=str(home / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
    )

    def cdk(*args, timeout=240):
        done = subprocess.run([str(app / "node_modules" / ".bin" / "cdk"), *args, "--no-notices"],
                              cwd=app, env=env, capture_output=True, text=True, timeout=timeout)
        out = done.stdout + done.stderr
        assert done.returncode == 0, f"cdk {' '.join(args)} exited {done.returncode}:\n{out[-6000:]}"
        return out

    def aws(service, **config):
        return client(service, server.url, key=env["AWS_ACCESS_KEY_ID"],
                      secret=env["AWS_SECRET_ACCESS_KEY"], **config)

    yield cdk, aws, server
    server.stop()


def outputs(cfn, stack):
    return {o["OutputKey"]: o["OutputValue"]
            for o in cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}


def test_bootstrap_deploy_diff_destroy(world, app):
    cdk, aws, server = world
    cfn, s3, ssm = aws("cloudformation"), aws("s3", s3={"addressing_style": "path"}), aws("ssm")
    sm, lam = aws("sagemaker"), aws("lambda")
    account = aws("sts").get_caller_identity()["Account"]
    assert account == "000000000000"
    staging = f"cdk-{QUALIFIER}-assets-{account}-us-east-1"

    # cdk bootstrap: the CDKToolkit stack, made through a change set.
    out = cdk("bootstrap", f"aws://{account}/us-east-1")
    assert f"Environment aws://{account}/us-east-1 bootstrapped" in out, out
    toolkit = cfn.describe_stacks(StackName="CDKToolkit")["Stacks"][0]
    assert toolkit["StackStatus"] == "CREATE_COMPLETE"
    assert toolkit["ChangeSetId"].split(":changeSet/")[1].startswith("cdk-bootstrap-change-set-")
    boot = outputs(cfn, "CDKToolkit")
    assert boot["BucketName"] == staging
    version = ssm.get_parameter(Name=f"/cdk-bootstrap/{QUALIFIER}/version")["Parameter"]["Value"]
    assert version == boot["BootstrapVersion"]
    assert boot["ImageRepositoryName"] == f"cdk-{QUALIFIER}-container-assets-{account}-us-east-1"
    # The staging bucket as the bootstrap template configures it.
    assert s3.get_bucket_versioning(Bucket=staging)["Status"] == "Enabled"
    encryption = s3.get_bucket_encryption(Bucket=staging)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(s3.get_public_access_block(Bucket=staging)["PublicAccessBlockConfiguration"].values())
    policy = json.loads(s3.get_bucket_policy(Bucket=staging)["Policy"])
    assert policy["Statement"][0]["Sid"] == "AllowSSLRequestsOnly"
    kinds = {r["LogicalResourceId"]: r["ResourceType"]
             for r in cfn.describe_stack_resources(StackName="CDKToolkit")["StackResources"]}
    for logical, kind in {"StagingBucket": "AWS::S3::Bucket",
                          "StagingBucketPolicy": "AWS::S3::BucketPolicy",
                          "ContainerAssetsRepository": "AWS::ECR::Repository",
                          "DeploymentActionRole": "AWS::IAM::Role",
                          "FilePublishingRole": "AWS::IAM::Role",
                          "CdkBootstrapVersion": "AWS::SSM::Parameter"}.items():
        assert kinds.get(logical) == kind, (logical, kinds)

    # cdk deploy: the assets go to the staging bucket, the stack through a change set.
    out = cdk("deploy", "--require-approval", "never")
    assert f"✅  {STACK}" in out, out
    stack = settled_stack(cfn, STACK)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    assert stack["ChangeSetId"].split(":changeSet/")[1].startswith("cdk-deploy-change-set/")
    # The bootstrap version parameter, read from SSM: its name, and what it resolved to.
    bootstrap_param = [p for p in stack["Parameters"] if p["ParameterKey"] == "BootstrapVersion"]
    assert bootstrap_param == [{"ParameterKey": "BootstrapVersion",
                                "ParameterValue": f"/cdk-bootstrap/{QUALIFIER}/version",
                                "ResolvedValue": version}]
    got = outputs(cfn, STACK)
    seed_key = got["SeedCodeUrl"].removeprefix(f"s3://{staging}/")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=staging).get("Contents", [])}
    assert seed_key in keys, keys
    assert sum(k.endswith(".zip") for k in keys) == 2, keys  # the seed code and the function
    assert sum(k.endswith(".json") for k in keys) == 1, keys  # the template itself
    seed = zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket=staging, Key=seed_key)["Body"].read()))
    assert sorted(seed.namelist()) == ["README.md", "buildspec.yml"]

    # The resources are the server's own objects, with the app's tag.
    assert stack["Tags"] == [{"Key": "team", "Value": "ml-platform"}]
    bucket_tags = s3.get_bucket_tagging(Bucket=got["ArtifactBucketName"])["TagSet"]
    assert {"Key": "team", "Value": "ml-platform"} in bucket_tags
    group = sm.describe_model_package_group(ModelPackageGroupName=got["ModelPackageGroupName"])
    assert group["ModelPackageGroupArn"] == got["ModelPackageGroupArn"]
    assert sm.list_tags(ResourceArn=got["ModelPackageGroupArn"])["Tags"] == [
        {"Key": "team", "Value": "ml-platform"}]
    assert got["ModelPackageGroupName"] == "cdk-demo-p-cdkdemo00001"
    params = {p: ssm.get_parameter(Name=f"/sagemaker/projects/cdk-demo/{p}")["Parameter"]["Value"]
              for p in ("artifact-bucket", "seed-code")}
    assert params == {"artifact-bucket": got["ArtifactBucketName"], "seed-code": got["SeedCodeUrl"]}
    role = got["PipelineRoleArn"]
    assumed = aws("sts").assume_role(RoleArn=role, RoleSessionName="pipeline")
    assert assumed["AssumedRoleUser"]["Arn"].startswith(
        role.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/"))
    # The function runs the code the CLI published as an asset.
    answer = lam.invoke(FunctionName=got["FunctionName"], Payload=b'{"question": "status"}')
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.load(answer["Payload"]) == {
        "modelPackageGroup": got["ModelPackageGroupName"], "seedCode": got["SeedCodeUrl"],
        "asked": "status"}
    assert lam.get_function(FunctionName=got["FunctionName"])["Tags"]["team"] == "ml-platform"

    # The template's CheckBootstrapVersion rule reads its SSM-typed parameter: a
    # bootstrap version it refuses fails the change set, in the rule's words.
    ssm.put_parameter(Name="/cdk-bootstrap/old/version", Value="3", Type="String")
    template = (app / "cdk.out" / f"{STACK}.template.json").read_text()
    with pytest.raises(cfn.exceptions.ClientError) as refused:
        cfn.create_change_set(StackName=STACK, ChangeSetName="old-bootstrap", TemplateBody=template,
                              Capabilities=["CAPABILITY_IAM"],
                              Parameters=[{"ParameterKey": "BootstrapVersion",
                                           "ParameterValue": "/cdk-bootstrap/old/version"}])
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "CDK bootstrap stack version 6 required" in refused.value.response["Error"]["Message"]

    # From here the commands read the assembly deploy synthesized (`--app cdk.out`):
    # the same templates and assets, without compiling the app again.
    # cdk diff: a change set to compare with (deleted again), and no difference.
    out = cdk("diff", "--app", "cdk.out")
    assert "Could not create a change set" not in out, out
    assert "There were no differences" in out, out
    assert "Number of stacks with differences: 0" in out, out
    # The executed deploy change set stays (EXECUTE_COMPLETE), as on AWS; diff's is gone.
    assert [(c["ChangeSetName"], c["ExecutionStatus"])
            for c in cfn.list_change_sets(StackName=STACK)["Summaries"]] == [
        ("cdk-deploy-change-set", "EXECUTE_COMPLETE")]
    assert settled_stack(cfn, STACK)["StackStatus"] == "CREATE_COMPLETE"
    # Another parameter value leaves the template as it is: only the change set (read
    # with IncludePropertyValues) can tell what would change, and what it would replace.
    out = cdk("diff", "--app", "cdk.out", "--parameters", "SageMakerProjectName=churn")
    assert "Number of stacks with differences: 1" in out, out
    assert "[~] AWS::SageMaker::ModelPackageGroup ModelPackageGroup ModelPackageGroup replace" in out, out
    assert "ModelPackageGroupName (requires replacement)" in out, out
    assert "[+] churn-p-cdkdemo00001" in out, out
    assert "/sagemaker/projects/churn/artifact-bucket" in out, out

    # An update through a change set: another project name replaces the model package
    # group and the parameters (their names are create-only) and updates the function.
    # `--tags` replaces the stack's tags, which reach the resources already there.
    out = cdk("deploy", "--app", "cdk.out", "--require-approval", "never",
              "--parameters", "SageMakerProjectName=churn", "--tags", "cost-center=42")
    assert f"✅  {STACK}" in out, out
    updated = settled_stack(cfn, STACK)
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    assert updated["Tags"] == [{"Key": "cost-center", "Value": "42"}]
    assert {"Key": "cost-center", "Value": "42"} in s3.get_bucket_tagging(
        Bucket=got["ArtifactBucketName"])["TagSet"]
    new = outputs(cfn, STACK)
    assert new["ModelPackageGroupName"] == "churn-p-cdkdemo00001"
    assert new["ArtifactBucketName"] == got["ArtifactBucketName"]  # the bucket stays
    sm.describe_model_package_group(ModelPackageGroupName="churn-p-cdkdemo00001")
    with pytest.raises(sm.exceptions.ClientError):
        sm.describe_model_package_group(ModelPackageGroupName=got["ModelPackageGroupName"])
    assert ssm.get_parameter(Name="/sagemaker/projects/churn/artifact-bucket")["Parameter"]["Value"] \
        == got["ArtifactBucketName"]
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/sagemaker/projects/cdk-demo/artifact-bucket")
    answer = lam.invoke(FunctionName=new["FunctionName"], Payload=b"{}")
    assert json.load(answer["Payload"])["modelPackageGroup"] == "churn-p-cdkdemo00001"
    assert lam.get_function(FunctionName=new["FunctionName"])["Tags"]["cost-center"] == "42"

    # cdk destroy: the stack and everything it made are gone.
    out = cdk("destroy", "--app", "cdk.out", "--force")
    assert f"{STACK}: destroyed" in out, out
    stack_id = stack["StackId"]
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(cfn.exceptions.ClientError):
        cfn.describe_stacks(StackName=STACK)
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_bucket(Bucket=got["ArtifactBucketName"])
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/sagemaker/projects/churn/artifact-bucket")
    with pytest.raises(sm.exceptions.ClientError):
        sm.describe_model_package_group(ModelPackageGroupName="churn-p-cdkdemo00001")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=new["FunctionName"])
    # The bootstrap stack stays, as on AWS.
    assert cfn.describe_stacks(StackName="CDKToolkit")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
