"""`TemplateURL` end to end: templates uploaded with boto3 / `aws s3 cp` to the embedded
S3 endpoint, then CreateStack, UpdateStack, CreateChangeSet, ValidateTemplate and
GetTemplateSummary with every URL form that names this server (or AWS), the failures
(missing bucket, missing key, foreign host), the native `AWS::S3::Bucket` provider (a
stack's bucket is real; a non-empty one fails the stack delete), and `--s3-endpoint`
against a second sagestack acting as the external S3."""
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, PATH_STYLE, Server, aws_cli, client, put_template, settled_stack

TEMPLATE_V1 = """\
Description: from the object store
Parameters:
  Env:
    Type: String
    Default: dev
Resources:
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  Env:
    Value: !Ref Env
"""

TEMPLATE_V2 = TEMPLATE_V1.replace("Queue:", "Topic:").replace("AWS::SQS::Queue", "AWS::SNS::Topic")

BUCKET_TEMPLATE = """\
Resources:
  Data:
    Type: AWS::S3::Bucket
    Properties:
      Tags:
        - Key: team
          Value: ml
Outputs:
  Name:
    Value: !Ref Data
  Arn:
    Value: !GetAtt Data.Arn
"""


def error_of(excinfo):
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


def test_every_url_form_naming_this_server_or_aws(server, cfn, s3):
    put_template(s3, "templates", "dir/my template+v1.yaml", TEMPLATE_V1)
    port = server.port
    key = "dir/my%20template+v1.yaml"
    forms = [
        f"http://127.0.0.1:{port}/templates/{key}",
        f"http://localhost:{port}/templates/{key}",
        f"http://templates.localhost:{port}/{key}",
        f"https://templates.s3.amazonaws.com/{key}",
        f"https://templates.s3.us-east-1.amazonaws.com/{key}",
        f"https://templates.s3-eu-west-1.amazonaws.com/{key}",
        f"https://templates.s3.dualstack.ap-south-1.amazonaws.com/{key}",
        f"https://s3.amazonaws.com/templates/{key}",
        f"https://s3.eu-central-1.amazonaws.com/templates/{key}?versionId=ignored",
        f"https://s3-us-west-2.amazonaws.com/templates/{key}",
        f"https://s3.cn-north-1.amazonaws.com.cn/templates/{key}",
    ]
    for url in forms:
        out = cfn.validate_template(TemplateURL=url)
        assert out["Description"] == "from the object store", url
        assert [p["ParameterKey"] for p in out["Parameters"]] == ["Env"], url
    summary = cfn.get_template_summary(TemplateURL=forms[0])
    assert summary["ResourceTypes"] == ["AWS::SQS::Queue"]


def test_create_update_and_change_sets_with_boto3(server, cfn, s3):
    put_template(s3, "templates", "v1.yaml", TEMPLATE_V1)
    put_template(s3, "templates", "v2.yaml", TEMPLATE_V2)
    v1 = "https://templates.s3.amazonaws.com/v1.yaml"
    v2 = f"http://localhost:{server.port}/templates/v2.yaml"
    cfn.create_stack(StackName="from-url", TemplateURL=v1,
                     Parameters=[{"ParameterKey": "Env", "ParameterValue": "prod"}])
    s = settled_stack(cfn, "from-url")
    assert s["StackStatus"] == "CREATE_COMPLETE", s
    assert s["Outputs"][0]["OutputValue"] == "prod"
    assert "Queue:" in cfn.get_template(StackName="from-url")["TemplateBody"]

    cfn.update_stack(StackName="from-url", TemplateURL=v2,
                     Parameters=[{"ParameterKey": "Env", "UsePreviousValue": True}])
    s = settled_stack(cfn, "from-url")
    assert s["StackStatus"] == "UPDATE_COMPLETE", s
    types = {r["ResourceType"] for r in
             cfn.describe_stack_resources(StackName="from-url")["StackResources"]}
    assert types == {"AWS::SNS::Topic"}

    cs = cfn.create_change_set(StackName="from-url", ChangeSetName="back", TemplateURL=v1,
                               Parameters=[{"ParameterKey": "Env", "UsePreviousValue": True}])
    deadline = time.monotonic() + 20
    while True:
        d = cfn.describe_change_set(ChangeSetName=cs["Id"])
        if d["Status"] in ("CREATE_COMPLETE", "FAILED"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert d["Status"] == "CREATE_COMPLETE", d
    actions = sorted((c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
                     for c in d["Changes"])
    assert actions == [("Add", "Queue"), ("Remove", "Topic")]


def test_aws_cli_upload_create_update_validate(server, cfn, tmp_path):
    f1, f2 = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    f1.write_text(TEMPLATE_V1)
    f2.write_text(TEMPLATE_V2)
    rc, _, err = aws_cli(server.url, "s3", "mb", "s3://cli-templates")
    assert rc == 0, err
    for f in (f1, f2):
        rc, _, err = aws_cli(server.url, "s3", "cp", str(f), "s3://cli-templates/")
        assert rc == 0, err
    url = f"https://cli-templates.s3.us-east-1.amazonaws.com/v1.yaml"
    rc, out, err = aws_cli(server.url, "cloudformation", "validate-template", "--template-url", url)
    assert rc == 0, err
    assert "from the object store" in out
    rc, out, err = aws_cli(server.url, "cloudformation", "create-stack", "--stack-name", "cli-url",
                           "--template-url", url)
    assert rc == 0, err
    assert settled_stack(cfn, "cli-url")["StackStatus"] == "CREATE_COMPLETE"
    rc, out, err = aws_cli(server.url, "cloudformation", "update-stack", "--stack-name", "cli-url",
                           "--template-url", f"http://127.0.0.1:{server.port}/cli-templates/v2.yaml")
    assert rc == 0, err
    assert settled_stack(cfn, "cli-url")["StackStatus"] == "UPDATE_COMPLETE"
    # `deploy --s3-bucket` uploads the template and passes its URL (path-style, on the
    # S3 endpoint) to CreateChangeSet. `--endpoint-url` is CloudFormation's only: the
    # CLI's S3 client for the upload takes its endpoint from AWS_ENDPOINT_URL_S3.
    rc, out, err = aws_cli(server.url, "cloudformation", "deploy", "--stack-name", "deployed",
                           "--template-file", str(f1), "--s3-bucket", "cli-templates",
                           "--s3-prefix", "deploys",
                           extra_env={"AWS_ENDPOINT_URL_S3": server.url})
    assert rc == 0, err
    assert settled_stack(cfn, "deployed")["StackStatus"] == "CREATE_COMPLETE"
    rc, out, err = aws_cli(server.url, "s3", "ls", "s3://cli-templates/deploys/")
    assert rc == 0 and ".template" in out, (out, err)
    rc, out, err = aws_cli(server.url, "cloudformation", "validate-template", "--template-url",
                           "https://cli-templates.s3.amazonaws.com/absent.yaml")
    assert rc != 0
    assert "ValidationError" in err and "The specified key does not exist" in err, err


def test_missing_bucket_missing_key_and_foreign_hosts(server, cfn, s3):
    put_template(s3, "templates", "v1.yaml", TEMPLATE_V1)
    cases = [
        ("https://nosuchbucket.s3.amazonaws.com/v1.yaml",
         "S3 error: The specified bucket does not exist"),
        ("https://templates.s3.amazonaws.com/absent.yaml",
         "S3 error: The specified key does not exist."),
        ("https://example.com/templates/v1.yaml", "TemplateURL must be a supported URL."),
        ("http://169.254.169.254/latest/meta-data/", "TemplateURL must be a supported URL."),
        ("http://templates.s3.amazonaws.com/v1.yaml", "TemplateURL must be a supported URL."),
        (f"http://127.0.0.1:{server.port + 1}/templates/v1.yaml",
         "TemplateURL must be a supported URL."),
        ("s3://templates/v1.yaml", "TemplateURL must be a supported URL."),
    ]
    for url, message in cases:
        for call in (
            lambda: cfn.validate_template(TemplateURL=url),
            lambda: cfn.create_stack(StackName="never", TemplateURL=url),
            lambda: cfn.get_template_summary(TemplateURL=url),
        ):
            with pytest.raises(ClientError) as e:
                call()
            code, msg = error_of(e)
            assert code == "ValidationError", (url, code, msg)
            assert msg.startswith(message), (url, msg)
    with pytest.raises(ClientError) as e:
        cfn.describe_stacks(StackName="never")
    assert "does not exist" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName="both", TemplateBody=TEMPLATE_V1,
                         TemplateURL="https://templates.s3.amazonaws.com/v1.yaml")
    assert error_of(e) == ("ValidationError", "Specify exactly one of TemplateBody or TemplateUrl.")


def test_template_url_allows_templates_over_the_inline_limit(server, cfn, s3):
    big = TEMPLATE_V1 + "Metadata:\n  Pad: '" + "x" * 60_000 + "'\n"
    put_template(s3, "templates", "big.yaml", big)
    with pytest.raises(ClientError):
        cfn.validate_template(TemplateBody=big)
    out = cfn.validate_template(TemplateURL="https://templates.s3.amazonaws.com/big.yaml")
    assert out["Description"] == "from the object store"
    too_big = "Resources: {}\nMetadata:\n  Pad: '" + "x" * 1_100_000 + "'\n"
    put_template(s3, "templates", "too-big.yaml", too_big)
    with pytest.raises(ClientError) as e:
        cfn.validate_template(TemplateURL="https://templates.s3.amazonaws.com/too-big.yaml")
    assert error_of(e)[0] == "ValidationError"
    assert "may not exceed" in error_of(e)[1]


def test_stack_buckets_are_real_and_non_empty_ones_fail_the_delete(server, cfn, s3):
    cfn.create_stack(StackName="with-bucket", TemplateBody=BUCKET_TEMPLATE,
                     Tags=[{"Key": "cost-center", "Value": "42"}])
    s = settled_stack(cfn, "with-bucket")
    assert s["StackStatus"] == "CREATE_COMPLETE", s
    outputs = {o["OutputKey"]: o["OutputValue"] for o in s["Outputs"]}
    name = outputs["Name"]
    assert name.startswith("with-bucket-data-"), name
    assert outputs["Arn"] == f"arn:aws:s3:::{name}"
    s3.head_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}
    assert tags["team"] == "ml" and tags["cost-center"] == "42", tags
    assert tags["aws:cloudformation:stack-name"] == "with-bucket"

    s3.put_object(Bucket=name, Key="model.tar.gz", Body=b"weights")
    cfn.delete_stack(StackName="with-bucket")
    s = settled_stack(cfn, "with-bucket")
    assert s["StackStatus"] == "DELETE_FAILED", s
    evs = cfn.describe_stack_events(StackName="with-bucket")["StackEvents"]
    failed = [e for e in evs if e["LogicalResourceId"] == "Data"
              and e["ResourceStatus"] == "DELETE_FAILED"]
    assert failed and "The bucket you tried to delete is not empty" in \
        failed[0]["ResourceStatusReason"], failed
    s3.head_bucket(Bucket=name)

    s3.delete_object(Bucket=name, Key="model.tar.gz")
    cfn.delete_stack(StackName="with-bucket")
    stack_id = s["StackId"]
    s = settled_stack(cfn, stack_id)
    assert s["StackStatus"] == "DELETE_COMPLETE", s
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert e.value.response["Error"]["Code"] in ("404", "NoSuchBucket")


def test_external_s3_endpoint_is_a_second_sagestack(tmp_path):
    external = Server(str(tmp_path / "external")).start()
    try:
        main = Server(str(tmp_path / "main"), extra_env={
            "SAGESTACK_S3_ENDPOINT": external.url,
            "SAGESTACK_S3_PATH_STYLE": "true",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": "dummy-secret",
        }).start()
        try:
            ext_s3 = client("s3", external.url, s3=PATH_STYLE)
            main_s3 = client("s3", main.url, s3=PATH_STYLE)
            cfn = client("cloudformation", main.url)
            put_template(ext_s3, "remote", "t.yaml", TEMPLATE_V1)
            put_template(main_s3, "local", "t.yaml", TEMPLATE_V1)
            # The endpoint's own URL and AWS-form URLs are read from the external S3.
            for url in (f"{external.url}/remote/t.yaml",
                        "https://remote.s3.amazonaws.com/t.yaml"):
                out = cfn.validate_template(TemplateURL=url)
                assert out["Description"] == "from the object store", url
            cfn.create_stack(StackName="ext", TemplateURL=f"{external.url}/remote/t.yaml")
            assert settled_stack(cfn, "ext")["StackStatus"] == "CREATE_COMPLETE"
            # Missing there (even if present here), and this server's own URLs: refused.
            with pytest.raises(ClientError) as e:
                cfn.validate_template(TemplateURL="https://local.s3.amazonaws.com/t.yaml")
            assert error_of(e)[1].startswith("S3 error: The specified bucket does not exist")
            with pytest.raises(ClientError) as e:
                cfn.validate_template(TemplateURL=f"{external.url}/remote/absent.yaml")
            assert error_of(e)[1].startswith("S3 error: The specified key does not exist.")
            with pytest.raises(ClientError) as e:
                cfn.validate_template(TemplateURL=f"{main.url}/local/t.yaml")
            assert error_of(e)[1].startswith("TemplateURL must be a supported URL.")
        finally:
            main.stop()
    finally:
        external.stop()
