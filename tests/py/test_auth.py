"""Who is calling (`--auth none|sigv4`), through boto3 and the AWS CLI against the binary.

`none` (the default): any credentials work on every protocol, S3 included. `sigv4`:
each request must be signed by a key of the credentials file; refusals carry each
protocol's error, and nothing is written.
"""
import datetime
import json
import os
import re
import signal
import time
import urllib.error
import urllib.request
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import REGION, Server, aws_cli, client
from conftest import code as error_code

ALICE = ("AKIAALICE0000000", "alice-secret/+x", "111111111111")
BOB = ("AKIABOB000000000", "bob-secret", "222222222222")


def status(e):
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def write_credentials(path, *entries):
    lines = []
    for akid, secret, account, *arn in entries:
        lines += ["[[credentials]]", f'access_key_id = "{akid}"',
                  f'secret_access_key = "{secret}"', f'account_id = "{account}"']
        if arn:
            lines.append(f'arn = "{arn[0]}"')
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


@pytest.fixture
def creds_file(tmp_path):
    path = str(tmp_path / "credentials.toml")
    write_credentials(path, ALICE + ("arn:aws:iam::111111111111:user/alice",), BOB)
    return path


@pytest.fixture
def sigv4_server(tmp_path, creds_file):
    s = Server(str(tmp_path / "sigv4-data"), {"SAGESTACK_AUTH": "sigv4", "SAGESTACK_CREDENTIALS": "",
                          "SAGESTACK_CREDENTIALS_FILE": creds_file}).start()
    yield s
    s.stop()


def as_(who, service, url, **kw):
    akid, secret, _ = who
    return client(service, url, key=akid, secret=secret, **kw)


# --- none ----------------------------------------------------------------------------


def test_none_mode_takes_any_credentials_on_every_protocol(server, tmp_path):
    assert re.search(r'auth\S*=\S*"none"', server.read_log())
    for key, secret in [("AKIAANYTHING", "whatever"), ("ASIAOTHER", "x/y+z")]:
        s3 = client("s3", server.url, key=key, secret=secret)
        bucket = key.lower()
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="t.yaml", Body=b"body")
        assert s3.get_object(Bucket=bucket, Key="t.yaml")["Body"].read() == b"body"
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "t.yaml"})
        assert urllib.request.urlopen(url, timeout=5).read() == b"body"
        sm = client("sagemaker", server.url, key=key, secret=secret)
        sm.create_model_package_group(ModelPackageGroupName=f"g-{bucket}")
        got = sm.describe_model_package_group(ModelPackageGroupName=f"g-{bucket}")
        assert got["CreatedBy"]["IamIdentity"]["PrincipalId"] == key
    # The CLI's `s3 cp`, the first step of every project, with credentials of its own.
    src = tmp_path / "template.yaml"
    src.write_text("Resources: {}\n")
    rc, _, err = aws_cli(server.url, "s3", "cp", str(src), "s3://akiaanything/cli.yaml",
                         extra_env={"AWS_ACCESS_KEY_ID": "AKIAMINE", "AWS_SECRET_ACCESS_KEY": "mine"})
    assert rc == 0, err
    # Unsigned requests are still refused (a web page cannot drive the server).
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(
            server.url + "/", data=b"{}", headers={
                "X-Amz-Target": "SageMaker.ListProjects",
                "Content-Type": "application/x-amz-json-1.1"}), timeout=5)
    assert e.value.code == 403
    assert json.load(e.value)["__type"] == "MissingAuthenticationTokenException"


# --- sigv4 ---------------------------------------------------------------------------


def test_sigv4_identities_come_from_the_credentials_file(sigv4_server):
    url = sigv4_server.url
    assert re.search(r'auth\S*=\S*"sigv4"', sigv4_server.read_log())
    assert ALICE[1] not in sigv4_server.read_log()
    sm = as_(ALICE, "sagemaker", url)
    sm.create_model_package_group(ModelPackageGroupName="alice-models")
    got = sm.describe_model_package_group(ModelPackageGroupName="alice-models")
    assert got["CreatedBy"]["IamIdentity"]["Arn"] == "arn:aws:iam::111111111111:user/alice"
    assert got["ModelPackageGroupArn"].split(":")[4] == "111111111111"
    ssm = as_(BOB, "ssm", url)
    ssm.put_parameter(Name="/bob/p", Value="v", Type="String")
    assert ssm.get_parameter(Name="/bob/p")["Parameter"]["ARN"].split(":")[4] == "222222222222"
    s3 = as_(BOB, "s3", url)
    s3.create_bucket(Bucket="bob-bucket")
    s3.put_object(Bucket="bob-bucket", Key="k", Body=b"x")
    url_ok = s3.generate_presigned_url("get_object", Params={"Bucket": "bob-bucket", "Key": "k"})
    assert urllib.request.urlopen(url_ok, timeout=5).read() == b"x"
    lam = as_(ALICE, "lambda", url)
    assert lam.list_functions()["Functions"] == []
    cfn = as_(ALICE, "cloudformation", url)
    assert cfn.list_stacks()["StackSummaries"] == []


def test_unknown_keys_and_wrong_secrets_are_refused_in_each_protocols_shape(sigv4_server):
    url = sigv4_server.url
    unknown = ("AKIAUNKNOWN00000", "s", "000000000000")
    wrong = (ALICE[0], "not-the-secret", ALICE[2])
    cases = [
        ("sagemaker", lambda c: c.list_projects(), "UnrecognizedClientException",
         "InvalidSignatureException", 400),
        ("ssm", lambda c: c.get_parameter(Name="x"), "UnrecognizedClientException",
         "InvalidSignatureException", 400),
        ("cloudformation", lambda c: c.list_stacks(), "InvalidClientTokenId",
         "SignatureDoesNotMatch", 403),
        ("lambda", lambda c: c.list_functions(), "UnrecognizedClientException",
         "InvalidSignatureException", 400),
        ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId", "SignatureDoesNotMatch", 403),
    ]
    for service, call, unknown_code, wrong_code, code in cases:
        with pytest.raises(ClientError) as e:
            call(as_(unknown, service, url))
        assert (error_code(e), status(e)) == (unknown_code, code), service
        with pytest.raises(ClientError) as e:
            call(as_(wrong, service, url))
        assert (error_code(e), status(e)) == (wrong_code, code), service
        assert "not-the-secret" not in json.dumps(e.value.response, default=str)
    # Nothing about the expected signature reaches the log.
    assert "not-the-secret" not in sigv4_server.read_log()


def signed(url, target, body, who=ALICE, when=None, service="sagemaker"):
    """A request signed by botocore as `who` at `when` (default now): (url, headers)."""
    akid, secret, _ = who
    req = AWSRequest(method="POST", url=url + "/", data=body, headers={
        "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
    if when is None:
        SigV4Auth(Credentials(akid, secret), service, REGION).add_auth(req)
    else:
        class Fixed(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return when

            @classmethod
            def now(cls, tz=None):
                return when.replace(tzinfo=tz) if tz else when
        with mock.patch("botocore.auth.datetime.datetime", Fixed):
            SigV4Auth(Credentials(akid, secret), service, REGION).add_auth(req)
    return dict(req.headers)


def post(url, headers, body):
    req = urllib.request.Request(url + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_tampered_skewed_and_unsigned_requests_write_nothing(sigv4_server):
    url = sigv4_server.url
    body = json.dumps({"ModelPackageGroupName": "g1"}).encode()
    headers = signed(url, "SageMaker.CreateModelPackageGroup", body)
    # Tampered body: another group name under the same signature.
    tampered = json.dumps({"ModelPackageGroupName": "g2"}).encode()
    st, out = post(url, headers, tampered)
    assert (st, out["__type"]) == (400, "InvalidSignatureException"), out
    # Tampered header: another operation under the same signature.
    other = dict(headers, **{"X-Amz-Target": "SageMaker.DeleteModelPackageGroup"})
    st, out = post(url, other, body)
    assert (st, out["__type"]) == (400, "InvalidSignatureException"), out
    # A clock 20 minutes behind.
    past = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    st, out = post(url, signed(url, "SageMaker.CreateModelPackageGroup", body, when=past), body)
    assert (st, out["__type"]) == (400, "InvalidSignatureException"), out
    assert "Signature expired" in out["message"]
    # No signature at all.
    st, out = post(url, {"X-Amz-Target": "SageMaker.CreateModelPackageGroup",
                         "Content-Type": "application/x-amz-json-1.1"}, body)
    assert (st, out["__type"]) == (403, "MissingAuthenticationTokenException"), out
    sm = as_(ALICE, "sagemaker", url)
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    # The genuine request works.
    st, out = post(url, headers, body)
    assert st == 200, out
    names = [g["ModelPackageGroupName"]
             for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]]
    assert names == ["g1"]


def test_presigned_urls_expire(sigv4_server):
    s3 = as_(ALICE, "s3", sigv4_server.url)
    s3.create_bucket(Bucket="expiring")
    s3.put_object(Bucket="expiring", Key="k", Body=b"x")
    # Long enough that a loaded CI machine still fetches it in time: the expiry is counted
    # in whole seconds, so ExpiresIn=1 may leave little more than one.
    expires_in = 5
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "expiring", "Key": "k"},
                                    ExpiresIn=expires_in)
    try:
        assert urllib.request.urlopen(url, timeout=5).read() == b"x"
    except urllib.error.HTTPError as e:
        pytest.fail(f"a fresh presigned URL was refused: {e.code} {e.read().decode()}")
    # A tampered signature is refused while the URL is still current.
    wrong = url.replace("Signature=", "Signature=0")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(wrong, timeout=5)
    assert e.value.code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in e.value.read().decode()
    # boto3 presigns S3 with SigV2 by default: `Expires` is the epoch second it ends at.
    expires_at = int(re.search(r"[?&]Expires=(\d+)", url).group(1))
    time.sleep(max(0.0, expires_at + 1.2 - time.time()))
    for _ in range(2):  # a replay after expiry is refused as well
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url, timeout=5)
        assert e.value.code == 403
        assert "<Code>AccessDenied</Code>" in e.value.read().decode()


def hang_up(server, logged):
    """Sends SIGHUP and waits until the server logs `logged`."""
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while logged not in server.read_log():
        assert time.monotonic() < deadline, server.read_log()
        time.sleep(0.05)


def test_sighup_rereads_the_credentials_file(sigv4_server, creds_file):
    # A second key of Alice's account, and a key of an account unknown at start-up.
    carol = ("AKIACAROL0000000", "carol-secret", "111111111111")
    dave = ("AKIADAVE00000000", "dave-secret", "333333333333")
    with pytest.raises(ClientError):
        as_(carol, "sagemaker", sigv4_server.url).list_projects()
    write_credentials(creds_file, ALICE, carol, dave)
    hang_up(sigv4_server, "credentials reloaded")
    assert as_(carol, "sagemaker", sigv4_server.url).list_projects()["ProjectSummaryList"] == []
    with pytest.raises(ClientError) as e:
        as_(BOB, "sagemaker", sigv4_server.url).list_projects()
    assert error_code(e) == "UnrecognizedClientException"
    # Accounts are read at start-up: a new account's verified key is told to restart.
    with pytest.raises(ClientError) as e:
        as_(dave, "sagemaker", sigv4_server.url).list_projects()
    assert error_code(e) == "AccessDenied" and "restart" in str(e.value)
    # A broken file keeps the keys in use.
    with open(creds_file, "w") as f:
        f.write("not toml [")
    hang_up(sigv4_server, "credentials not reloaded")
    assert as_(carol, "sagemaker", sigv4_server.url).list_projects()["ProjectSummaryList"] == []


def test_sigv4_needs_credentials(data_dir):
    s = Server(data_dir, {"SAGESTACK_AUTH": "sigv4", "SAGESTACK_CREDENTIALS": ""})
    with pytest.raises(RuntimeError) as e:
        s.start()
    assert "--auth sigv4 needs --credentials-file or --credentials" in str(e.value)


# --- STS -----------------------------------------------------------------------------

ROLE_TEMPLATE = """
Resources:
  Deployer:
    Type: AWS::IAM::Role
    Properties:
      RoleName: deployer
      MaxSessionDuration: 7200
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: sagemaker.amazonaws.com}
            Action: sts:AssumeRole
"""


def test_get_caller_identity_in_both_modes(server, sigv4_server):
    me = client("sts", server.url, key="AKIAWHOEVER", secret="x").get_caller_identity()
    assert (me["Account"], me["UserId"]) == ("000000000000", "AKIAWHOEVER")
    assert me["Arn"] == "arn:aws:iam::000000000000:root"
    alice = as_(ALICE, "sts", sigv4_server.url).get_caller_identity()
    assert alice["Arn"] == "arn:aws:iam::111111111111:user/alice"
    assert alice["Account"] == "111111111111"
    bob = as_(BOB, "sts", sigv4_server.url).get_caller_identity()
    assert (bob["Account"], bob["Arn"]) == ("222222222222", "arn:aws:iam::222222222222:root")
    with pytest.raises(ClientError) as e:
        as_(("AKIANOBODY000000", "x", ""), "sts", sigv4_server.url).get_caller_identity()
    assert error_code(e) == "InvalidClientTokenId" and status(e) == 403


def test_assume_role_hands_out_keys_that_work_and_expire(sigv4_server):
    url = sigv4_server.url
    cfn = as_(ALICE, "cloudformation", url)
    cfn.create_stack(StackName="roles", TemplateBody=ROLE_TEMPLATE,
                     Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.get_waiter("stack_create_complete").wait(StackName="roles",
                                                WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    sts = as_(ALICE, "sts", url)
    role_arn = "arn:aws:iam::111111111111:role/deployer"
    out = sts.assume_role(RoleArn=role_arn, RoleSessionName="ci-run", DurationSeconds=7200)
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and len(c["SessionToken"]) > 100
    assert out["AssumedRoleUser"]["Arn"] == "arn:aws:sts::111111111111:assumed-role/deployer/ci-run"
    assert out["AssumedRoleUser"]["AssumedRoleId"].endswith(":ci-run")
    remaining = c["Expiration"].timestamp() - time.time()
    assert 7100 < remaining <= 7200
    session = client("sts", url, key=c["AccessKeyId"], secret=c["SecretAccessKey"],
                     token=c["SessionToken"])
    who = session.get_caller_identity()
    assert who["Arn"] == out["AssumedRoleUser"]["Arn"] and who["Account"] == "111111111111"
    # Without its token, or with another, the temporary key is refused.
    for token in [None, "forged"]:
        other = client("sts", url, key=c["AccessKeyId"], secret=c["SecretAccessKey"],
                       token=token)
        with pytest.raises(ClientError) as e:
            other.get_caller_identity()
        assert error_code(e) == "InvalidClientTokenId"
    # Over the role's MaxSessionDuration, a role that does not exist, another account's.
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="long", DurationSeconds=7201)
    assert error_code(e) == "ValidationError" and "MaxSessionDuration" in str(e.value)
    for arn in ["arn:aws:iam::111111111111:role/missing", role_arn]:
        caller = ALICE if "missing" in arn else BOB
        with pytest.raises(ClientError) as e:
            as_(caller, "sts", url).assume_role(RoleArn=arn, RoleSessionName="s1")
        assert error_code(e) == "AccessDenied" and status(e) == 403
    with pytest.raises(ClientError) as e:
        client("sts", url, key=ALICE[0], secret=ALICE[1], validate=False).assume_role(
            RoleArn=role_arn, RoleSessionName="x")
    assert error_code(e) == "ValidationError" and "roleSessionName" in str(e.value)


# --- accounts kept apart -------------------------------------------------------------

PROJECT_TEMPLATE = """
Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
Resources:
  Config:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub /projects/${SageMakerProjectName}
      Type: String
      Value: !Ref SageMakerProjectId
Outputs:
  Param: {Value: !Ref Config}
"""


def test_two_accounts_see_only_their_own(sigv4_server, tmp_path):
    url = sigv4_server.url
    # One bucket namespace (names are global, as on AWS): each account keeps the
    # template in a bucket of its own, and its projects read only its buckets.
    ids = {}
    for who in (ALICE, BOB):
        bucket = f"templates-{who[2]}"
        s3 = as_(who, "s3", url)
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="p.yaml", Body=PROJECT_TEMPLATE.encode())
        template_url = f"https://{bucket}.s3.{REGION}.amazonaws.com/p.yaml"
        sm = as_(who, "sagemaker", url)
        made = sm.create_project(
            ProjectName="same-name",
            TemplateProviders=[{"CfnTemplateProvider": {
                "TemplateName": "t", "TemplateURL": template_url}}])
        assert made["ProjectArn"].split(":")[4] == who[2]
        ids[who[0]] = made["ProjectId"]
        waiter_deadline = time.monotonic() + 30
        while (d := sm.describe_project(ProjectName="same-name"))["ProjectStatus"] != "CreateCompleted":
            assert d["ProjectStatus"] != "CreateFailed", d
            assert time.monotonic() < waiter_deadline
            time.sleep(0.1)
        ssm = as_(who, "ssm", url)
        ssm.put_parameter(Name="/shared/name", Value=who[0], Type="String")
        as_(who, "cloudformation", url).create_stack(
            StackName="same-stack",
            TemplateBody="Resources:\n  P:\n    Type: AWS::SSM::Parameter\n"
                         "    Properties: {Type: String, Value: x}\n")
        as_(who, "sagemaker", url).create_model_package_group(ModelPackageGroupName="models")
        as_(who, "servicecatalog", url).create_portfolio(
            DisplayName=f"pf-{who[0]}", ProviderName="me", IdempotencyToken=who[0])
    assert ids[ALICE[0]] != ids[BOB[0]]
    for who, other in ((ALICE, BOB), (BOB, ALICE)):
        sm = as_(who, "sagemaker", url)
        projects = sm.list_projects()["ProjectSummaryList"]
        assert [(p["ProjectName"], p["ProjectId"]) for p in projects] == [("same-name", ids[who[0]])]
        ssm = as_(who, "ssm", url)
        assert ssm.get_parameter(Name="/shared/name")["Parameter"]["Value"] == who[0]
        own = ssm.get_parameter(Name="/projects/same-name")["Parameter"]["Value"]
        assert own == ids[who[0]]
        cfn = as_(who, "cloudformation", url)
        stacks = [s["StackId"] for s in cfn.list_stacks()["StackSummaries"]]
        assert all(f":{who[2]}:" in s for s in stacks) and len(stacks) == 2, stacks
        groups = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
        assert [g["ModelPackageGroupArn"].split(":")[4] for g in groups] == [who[2]]
        portfolios = as_(who, "servicecatalog", url).list_portfolios()["PortfolioDetails"]
        assert [p["DisplayName"] for p in portfolios] == [f"pf-{who[0]}"]
        # The other account's project is not there for this one, by name or by ARN.
        sm.delete_model_package_group(ModelPackageGroupName="models")
    assert as_(ALICE, "sagemaker", url).list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    # Deleting Alice's project leaves Bob's.
    as_(ALICE, "sagemaker", url).delete_project(ProjectName="same-name")
    deadline = time.monotonic() + 30
    while as_(ALICE, "sagemaker", url).list_projects()["ProjectSummaryList"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    bob = as_(BOB, "sagemaker", url).describe_project(ProjectName="same-name")
    assert bob["ProjectStatus"] == "CreateCompleted"


def test_buckets_belong_to_the_account_that_made_them(sigv4_server):
    url = sigv4_server.url
    alice, bob = as_(ALICE, "s3", url), as_(BOB, "s3", url)
    alice.create_bucket(Bucket="alice-data")
    alice.put_object(Bucket="alice-data", Key="k", Body=b"mine")
    bob.create_bucket(Bucket="bob-data")
    assert [b["Name"] for b in alice.list_buckets()["Buckets"]] == ["alice-data"]
    assert [b["Name"] for b in bob.list_buckets()["Buckets"]] == ["bob-data"]
    with pytest.raises(ClientError) as e:
        bob.create_bucket(Bucket="alice-data")
    assert error_code(e) == "BucketAlreadyExists" and status(e) == 409
    alice.create_bucket(Bucket="alice-data")  # one's own, again, in us-east-1: fine
    for call in (lambda: bob.get_object(Bucket="alice-data", Key="k"),
                 lambda: bob.put_object(Bucket="alice-data", Key="x", Body=b"no"),
                 lambda: bob.list_objects_v2(Bucket="alice-data"),
                 lambda: bob.delete_bucket(Bucket="alice-data"),
                 lambda: bob.copy_object(Bucket="bob-data", Key="stolen",
                                         CopySource={"Bucket": "alice-data", "Key": "k"})):
        with pytest.raises(ClientError) as e:
            call()
        assert status(e) == 403, e.value.response
    assert [o["Key"] for o in alice.list_objects_v2(Bucket="alice-data")["Contents"]] == ["k"]
    # A stack's bucket belongs to the stack's account.
    cfn = as_(BOB, "cloudformation", url)
    cfn.create_stack(StackName="b", TemplateBody="Resources:\n  B:\n    Type: AWS::S3::Bucket\n"
                     "    Properties: {BucketName: bob-stack-bucket}\n")
    cfn.get_waiter("stack_create_complete").wait(StackName="b",
                                                WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    assert "bob-stack-bucket" in [b["Name"] for b in bob.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as e:
        alice.list_objects_v2(Bucket="bob-stack-bucket")
    assert status(e) == 403


def test_functions_read_code_from_their_own_accounts_buckets(sigv4_server):
    import io
    import zipfile
    url = sigv4_server.url
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return 1\n")
    as_(ALICE, "s3", url).create_bucket(Bucket="alice-code")
    as_(ALICE, "s3", url).put_object(Bucket="alice-code", Key="fn.zip", Body=buf.getvalue())
    spec = dict(Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r",
                Handler="app.handler", Code={"S3Bucket": "alice-code", "S3Key": "fn.zip"})
    made = as_(ALICE, "lambda", url).create_function(FunctionName="f", **spec)
    assert made["FunctionArn"].split(":")[4] == "111111111111"
    with pytest.raises(ClientError) as e:
        as_(BOB, "lambda", url).create_function(FunctionName="f", **spec)
    assert error_code(e) == "InvalidParameterValueException" and "AccessDenied" in str(e.value)
    assert as_(BOB, "lambda", url).list_functions()["Functions"] == []


def test_the_aws_cli_with_each_accounts_credentials(sigv4_server):
    for akid, secret, account in (ALICE, BOB):
        env = {"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret}
        rc, out, err = aws_cli(sigv4_server.url, "sts", "get-caller-identity", extra_env=env)
        assert rc == 0, err
        assert json.loads(out)["Account"] == account
        rc, _, err = aws_cli(sigv4_server.url, "s3", "mb", f"s3://cli-{account}", extra_env=env)
        assert rc == 0, err
        rc, out, err = aws_cli(sigv4_server.url, "s3api", "list-buckets", extra_env=env)
        assert rc == 0, err
        assert [b["Name"] for b in json.loads(out)["Buckets"]] == [f"cli-{account}"]
    rc, _, err = aws_cli(sigv4_server.url, "sagemaker", "list-projects",
                         extra_env={"AWS_ACCESS_KEY_ID": ALICE[0], "AWS_SECRET_ACCESS_KEY": "wrong"})
    assert rc != 0 and "InvalidSignatureException" in err


def test_templates_are_read_from_the_callers_own_buckets(sigv4_server):
    url = sigv4_server.url
    as_(ALICE, "s3", url).create_bucket(Bucket="alice-templates")
    as_(ALICE, "s3", url).put_object(Bucket="alice-templates", Key="t.yaml",
                                     Body=b"Resources:\n  P:\n    Type: AWS::SSM::Parameter\n"
                                          b"    Properties: {Type: String, Value: v}\n")
    template_url = f"https://alice-templates.s3.{REGION}.amazonaws.com/t.yaml"
    as_(ALICE, "cloudformation", url).validate_template(TemplateURL=template_url)
    with pytest.raises(ClientError) as e:
        as_(BOB, "cloudformation", url).validate_template(TemplateURL=template_url)
    assert error_code(e) == "ValidationError" and "Access Denied" in str(e.value)
