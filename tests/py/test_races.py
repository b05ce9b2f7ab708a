"""Racing requests on one stack or project, through boto3 against the real binary (issue
#19, item 1): 20 simultaneous UpdateStack calls must start one update at a time, the
others refused as AWS refuses them; nothing acknowledged is lost and no replaced bucket
or parameter outlives the stack. Also racing UpdateProject/DeleteProject."""
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Server, client, make_client, settled_stack, wait_status as wait_project
from test_postgres_backend import pg_url  # noqa: F401 - the fixture

TEMPLATE = """\
Parameters:
  Round: {Type: String}
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: !Sub "race-${Round}"}
  Param:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Name: !Sub "/race/${Round}", Value: !Ref Round}
"""


def clients(url):
    return tuple(client(service, url, max_pool_connections=32) for service in ("cloudformation", "s3", "ssm"))


def settle(cfn, stack):
    return settled_stack(cfn, stack, timeout=60, poll=0.02)


def race(n, call):
    """Runs `call(i)` on n threads released together; [(i, result or ClientError)]."""
    barrier = threading.Barrier(n)
    out = [None] * n

    def run(i):
        barrier.wait()
        try:
            out[i] = call(i)
        except ClientError as e:
            out[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return list(enumerate(out))


def test_racing_updates_start_one_operation_at_a_time(server):
    racing_updates([server.url])


def test_racing_updates_across_postgres_replicas(tmp_path, pg_url):  # noqa: F811
    """The same race split over two replicas sharing one PostgreSQL database: the
    compare-and-set is in the database, not in a process."""
    env = {"SAGESTACK_DATABASE_URL": pg_url}
    a = Server(str(tmp_path / "a"), extra_env=dict(env, SAGESTACK_RECONCILE="true")).start()
    b = Server(str(tmp_path / "b"), extra_env=env).start()
    try:
        racing_updates([a.url, b.url])
    finally:
        b.stop()
        a.stop()


def racing_updates(urls):
    cfn, s3, ssm = clients(urls[0])
    replicas = [clients(u)[0] for u in urls]
    stack_id = cfn.create_stack(StackName="race", TemplateBody=TEMPLATE,
                                Parameters=[{"ParameterKey": "Round", "ParameterValue": "r0"}]
                                )["StackId"]
    settle(cfn, "race")
    refused_total = 0
    for rnd in range(1, 6):
        def update(i):
            value = f"r{rnd}-{i}"
            replicas[i % len(replicas)].update_stack(StackName="race", TemplateBody=TEMPLATE,
                             Parameters=[{"ParameterKey": "Round", "ParameterValue": value}])
            return value
        results = race(20, update)
        accepted = [r for _, r in results if isinstance(r, str)]
        refused = [r for _, r in results if isinstance(r, ClientError)]
        assert accepted, "at least the first update is accepted"
        for e in refused:
            err = e.response["Error"]
            assert err["Code"] == "ValidationError", err
            assert err["Message"] == (
                f"Stack:{stack_id} is in UPDATE_IN_PROGRESS state and can not be updated."
            ) or err["Message"].startswith(f"Stack:{stack_id} is in UPDATE_COMPLETE_CLEANUP_"), err
        refused_total += len(refused)
        final = settle(cfn, "race")
        assert final["StackStatus"] == "UPDATE_COMPLETE", final
        # Accepted updates ran one after another: each finished before the next began.
        # (Only on one server: replicas number a stack's events from their own counters,
        # a known gap of the replica work, so their events do not tell the order.)
        evs = cfn.describe_stack_events(StackName="race")["StackEvents"][::-1]
        stack_evs = [e["ResourceStatus"] for e in evs
                     if e["LogicalResourceId"] == "race" and e["ResourceStatus"] != "CREATE_IN_PROGRESS"
                     and e["ResourceStatus"] != "CREATE_COMPLETE"]
        starts = [i for i, s in enumerate(stack_evs) if s == "UPDATE_IN_PROGRESS"]
        for a, b in zip(starts, starts[1:] + [len(stack_evs)]):
            assert len(urls) > 1 or "UPDATE_COMPLETE" in stack_evs[a:b], stack_evs
        # The stack holds exactly one bucket and one parameter: the last accepted update's.
        value = [p for p in final["Parameters"] if p["ParameterKey"] == "Round"][0]["ParameterValue"]
        assert value in accepted
        buckets = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("race-")]
        assert buckets == [f"race-{value}".lower()], buckets
        params = ssm.get_parameters_by_path(Path="/race", Recursive=True)["Parameters"]
        assert [p["Name"] for p in params] == [f"/race/{value}"], params
    assert refused_total > 0, "the races overlapped at least once"
    cfn.delete_stack(StackName="race")
    deadline = time.monotonic() + 30
    while cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] != "DELETE_COMPLETE":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert not [b for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("race-")]
    assert not ssm.get_parameters_by_path(Path="/race", Recursive=True)["Parameters"]


def test_racing_deletes_and_updates_admit_one(server):
    cfn, s3, ssm = clients(server.url)
    for rnd in range(5):
        name = f"mixed{rnd}"
        sid = cfn.create_stack(StackName=name, TemplateBody=TEMPLATE,
                               Parameters=[{"ParameterKey": "Round", "ParameterValue": f"m{rnd}"}]
                               )["StackId"]
        settle(cfn, sid)

        def call(i):
            if i % 2:
                cfn.delete_stack(StackName=name)
                return "delete"
            cfn.update_stack(StackName=name, TemplateBody=TEMPLATE,
                             Parameters=[{"ParameterKey": "Round", "ParameterValue": f"m{rnd}-{i}"}])
            return "update"
        for _, r in race(10, call):
            if isinstance(r, ClientError):
                err = r.response["Error"]
                assert err["Code"] == "ValidationError", err
                # Refused while another operation runs, or (an update by name) after
                # an accepted delete finished.
                assert (err["Message"].startswith(f"Stack:{sid} is in ")
                        or err["Message"] == f"Stack with id {name} does not exist"), err
        if settle(cfn, sid)["StackStatus"] != "DELETE_COMPLETE":
            cfn.delete_stack(StackName=sid)
            assert settle(cfn, sid)["StackStatus"] == "DELETE_COMPLETE"
        # Each operation started after the previous one ended.
        evs = cfn.describe_stack_events(StackName=sid)["StackEvents"][::-1]
        statuses = [e["ResourceStatus"] for e in evs if e["LogicalResourceId"] == name]
        running = False
        for st in statuses:
            if st.endswith("_IN_PROGRESS") and "CLEANUP" not in st and "ROLLBACK" not in st:
                assert not running, statuses
                running = True
            elif not st.endswith("_IN_PROGRESS"):
                running = False
    assert not [b for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("race-")]
    assert not ssm.get_parameters_by_path(Path="/race", Recursive=True)["Parameters"]


def test_racing_project_changes_conflict(server):
    sm = make_client(server.url)
    _, s3, _ = clients(server.url)
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="p.yaml", Body=b"""\
Parameters:
  SageMakerProjectName: {Type: String}
Resources:
  P:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: !Ref SageMakerProjectName}
""")
    url = "https://templates.s3.us-east-1.amazonaws.com/p.yaml"
    provider = [{"CfnTemplateProvider": {"TemplateName": "p", "TemplateURL": url}}]
    sm.create_project(ProjectName="racer", TemplateProviders=provider)
    wait_project(sm, "racer", "CreateCompleted")

    def call(i):
        if i % 2:
            sm.delete_project(ProjectName="racer")
            return "delete"
        sm.update_project(ProjectName="racer", TemplateProvidersToUpdate=provider)
        return "update"
    results = race(10, call)
    accepted = [r for _, r in results if isinstance(r, str)]
    assert len(accepted) >= 1
    for _, r in results:
        if isinstance(r, ClientError):
            assert r.response["Error"]["Code"] in ("ConflictException", "ValidationException"), r.response
