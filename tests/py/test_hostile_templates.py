"""Hostile templates against the real binary (issue #19, items 3 and 4): YAML alias bombs,
nested `Fn::ForEach` over a large payload, `Fn::Sub` variable chains, and inline bodies
over 51,200 bytes. Each is refused with AWS's `ValidationError`, through `CreateStack`
(inline and by `TemplateURL` from the embedded S3) and `ValidateTemplate`; the server
stays healthy and its peak memory (`VmHWM`) grows by less than 150 MiB; and health checks
keep answering while eight bombs are in flight."""
import threading
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import PATH_STYLE, client, vmhwm

MIB = 1 << 20
# Peak memory a refusal may add to the server.
MAX_GROWTH = 150 * MIB
# Health checks while bombs are in flight: the target is 50 ms, which the typical check
# must meet; the worst one may be slower on a shared two-core machine running a debug
# build, so it gets a looser bound. Both are printed.
HEALTH_TARGET = 0.05
HEALTH_BOUND = 0.5


def slow_client(service, url):
    """Bombs take a while: a long read timeout."""
    return client(service, url, read_timeout=120, s3=PATH_STYLE)


@pytest.fixture
def cfn(server):
    return slow_client("cloudformation", server.url)


@pytest.fixture
def s3(server):
    s3 = slow_client("s3", server.url)
    s3.create_bucket(Bucket="bombs")
    return s3


def health(server):
    start = time.monotonic()
    with urllib.request.urlopen(server.url + "/_sagestack/health", timeout=30) as r:
        assert r.status == 200
    return time.monotonic() - start


def alias_bomb(scalar, aliases):
    return ("Resources:\n  Q: {Type: AWS::SQS::Queue}\nMetadata:\n"
            f"  A: &a '{'x' * scalar}'\n  B: [{','.join(['*a'] * aliases)}]\n")


def foreach_bomb(levels=3, items=40, payload=20_000):
    items = ", ".join(f"i{i}" for i in range(items))
    key = "".join(f"${{L{l}}}" for l in range(levels))
    body = f"{{'Q{key}': {{Type: AWS::SQS::Queue, Properties: {{QueueName: '{'p' * payload}'}}}}}}"
    for l in reversed(range(levels)):
        body = f"{{'Fn::ForEach::F{l}': [L{l}, [{items}], {body}]}}"
    return f"Transform: AWS::LanguageExtensions\nResources: {body}\n"


def sub_bomb(refs, levels=12):
    inner = "'" + "leaf-" * 20 + "'"
    for _ in range(levels):
        inner = f"!Sub ['{'${A}' * refs}', {{A: {inner}}}]"
    return f"Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: {inner}\n"


# The bombs: (name, body, how it is sent, expected message fragment).
BOMBS = [
    ("alias-1mb-url", lambda: alias_bomb(500_000, 160_000), "url", "YAML alias at line 5"),
    ("alias-950kb-inline", lambda: alias_bomb(250_000, 100_000), "inline",
     "at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to 51200"),
    ("foreach-url", foreach_bomb, "url", "Fn::ForEach::F"),
    ("sub-12x4-inline", lambda: sub_bomb(4), "inline", "Fn::Sub at line 5"),
    ("sub-12x10-inline", lambda: sub_bomb(10), "inline", "Fn::Sub at line 5"),
]


def send(cfn, s3, name, body, how, action):
    if how == "url":
        s3.put_object(Bucket="bombs", Key=f"{name}.yaml", Body=body.encode())
        source = {"TemplateURL": f"https://bombs.s3.amazonaws.com/{name}.yaml"}
    else:
        source = {"TemplateBody": body}
    if action == "CreateStack":
        return cfn.create_stack(StackName=name, **source)
    return cfn.validate_template(**source)


@pytest.mark.parametrize("name,make,how,fragment", BOMBS, ids=[b[0] for b in BOMBS])
@pytest.mark.parametrize("action", ["CreateStack", "ValidateTemplate"])
def test_bombs_are_refused_cheaply(server, cfn, s3, name, make, how, fragment, action):
    body = make()
    assert len(body) <= 1_048_576
    before = vmhwm(server.proc.pid)
    start = time.monotonic()
    with pytest.raises(ClientError) as e:
        send(cfn, s3, name, body, how, action)
    took = time.monotonic() - start
    err = e.value.response["Error"]
    assert err["Code"] == "ValidationError", err
    assert fragment in err["Message"], err["Message"][-300:]
    if how == "url" or len(body) <= 51_200:
        assert err["Message"].startswith("Template format error: "), err["Message"][:200]
    growth = vmhwm(server.proc.pid) - before
    print(f"{name} {action}: {took * 1000:.0f} ms, VmHWM +{growth / MIB:.1f} MiB")
    assert growth < MAX_GROWTH, growth
    assert health(server) < HEALTH_BOUND
    # Nothing was created.
    names = [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]]
    assert name not in names


def test_health_answers_while_eight_bombs_are_in_flight(server, cfn, s3):
    bodies = [alias_bomb(500_000, 160_000), foreach_bomb()]
    for i, body in enumerate(bodies):
        s3.put_object(Bucket="bombs", Key=f"p{i}.yaml", Body=body.encode())
    before = vmhwm(server.proc.pid)
    errors, done = [], threading.Event()

    def bomb(i):
        c = client("cloudformation", server.url)
        try:
            c.validate_template(TemplateURL=f"https://bombs.s3.amazonaws.com/p{i % 2}.yaml")
            errors.append("accepted")
        except ClientError as e:
            errors.append(e.response["Error"]["Code"])

    threads = [threading.Thread(target=bomb, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    latencies = []
    while any(t.is_alive() for t in threads):
        latencies.append(health(server))
        time.sleep(0.01)
    for t in threads:
        t.join()
    done.set()
    growth = vmhwm(server.proc.pid) - before
    latencies.sort()
    worst = latencies[-1] if latencies else 0.0
    print(f"8 bombs: {len(latencies)} health checks, median {latencies[len(latencies) // 2] * 1000:.1f} ms,"
          f" worst {worst * 1000:.1f} ms, VmHWM +{growth / MIB:.1f} MiB")
    assert errors == ["ValidationError"] * 8, errors
    assert latencies[len(latencies) // 2] < HEALTH_TARGET, latencies
    assert worst < HEALTH_BOUND, latencies
    assert growth < 2 * MAX_GROWTH, growth


@pytest.mark.parametrize("action", ["CreateStack", "CreateChangeSet"])
def test_inline_bodies_over_51200_bytes_are_refused(server, cfn, action):
    queue = "Resources:\n  Q: {Type: AWS::SQS::Queue}\n"
    pad = 51_201 - len(queue) - len("Metadata: {Pad: ''}\n")
    big = f"Metadata: {{Pad: '{'d' * pad}'}}\n{queue}"
    assert len(big) == 51_201
    args = {"StackName": "big", "TemplateBody": big}
    if action == "CreateChangeSet":
        args.update(ChangeSetName="c", ChangeSetType="CREATE")
    with pytest.raises(ClientError) as e:
        getattr(cfn, "create_stack" if action == "CreateStack" else "create_change_set")(**args)
    err = e.value.response["Error"]
    assert err["Code"] == "ValidationError"
    assert err["Message"] == (
        f"1 validation error detected: Value '{big}' at 'templateBody' failed to satisfy "
        "constraint: Member must have length less than or equal to 51200")
    # One byte less is accepted.
    at = big.replace("d" * pad, "d" * (pad - 1))
    args["TemplateBody"] = at
    getattr(cfn, "create_stack" if action == "CreateStack" else "create_change_set")(**args)
