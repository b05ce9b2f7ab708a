"""Issue #19 item 2 against the real binary: deeply nested request inputs are refused with
the protocol's error shape, the server stays up, and its peak memory stays small.

Before the fix, a 4 KB GET with 2,000 dotted segments overflowed a tokio worker's stack
and aborted the whole process."""
import http.client
import json
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from conftest import Server, vmhwm

# Every raw request carries a SigV4-shaped Authorization header (the server may refuse
# requests without one); the signature itself is not verified outside S3.
AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDSAGESTACKTEST/20260101/us-east-1/"
                     "cloudformation/aws4_request, SignedHeaders=host;x-amz-date, "
                     "Signature=" + "0" * 64,
    "X-Amz-Date": "20260101T000000Z",
}
# Peak resident memory the server may reach over these requests, in KiB: the inputs are
# at most 1 MiB, and a bounded parser never needs more than a few times that.
VMHWM_GROWTH_KIB = 64 * 1024


@pytest.fixture
def srv(tmp_path):
    s = Server(str(tmp_path / "d")).start()
    yield s
    s.stop()


def vmhwm_kib(pid):
    return vmhwm(pid) // 1024


def request(srv, method, path, body=None, content_type=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    headers = dict(AUTH)
    if content_type:
        headers["Content-Type"] = content_type
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    out = r.status, r.read()
    conn.close()
    return out


def healthy(srv):
    assert srv.proc.poll() is None, "the server process exited: " + srv.read_log()[-2000:]
    status, body = request(srv, "GET", "/_sagestack/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    # And it still answers a real Query request.
    status, body = request(srv, "GET", "/?Action=DescribeStacks&Version=2010-05-15")
    assert status == 200, body


def query_error(body):
    """(Type, Code, Message) of a Query `ErrorResponse` (refused before the `Version` is
    routed, it has no `xmlns`)."""
    root = ET.fromstring(body)
    assert root.tag == "ErrorResponse", body
    err = root.find("Error")
    assert root.find("RequestId").text
    return err.find("Type").text, err.find("Code").text, err.find("Message").text


def test_two_thousand_dotted_segments_in_a_get(srv):
    before = vmhwm_kib(srv.proc.pid)
    name = ".".join(["a"] * 2000)
    path = f"/?Action=DescribeStacks&Version=2010-05-15&{name}=1"
    assert 4000 <= len(path) <= 4200
    status, body = request(srv, "GET", path)
    assert status == 400, body
    fault, code, message = query_error(body)
    assert (fault, code) == ("Sender", "InvalidQueryParameter")
    assert "more than 32 segments" in message and len(message) < 400
    healthy(srv)
    assert vmhwm_kib(srv.proc.pid) - before < VMHWM_GROWTH_KIB


def test_nested_members_in_a_form_body(srv):
    before = vmhwm_kib(srv.proc.pid)
    # Close to the 1 MiB form limit: X.member.1.member.1...=v
    name = "X" + ".member.1" * 110_000
    body = f"Action=CreateStack&Version=2010-05-15&StackName=s&{name}=v"
    assert len(body) < 1024 * 1024
    for _ in range(3):
        status, out = request(srv, "POST", "/", body.encode(),
                              "application/x-www-form-urlencoded; charset=utf-8")
        assert status == 400, out
        fault, code, _ = query_error(out)
        assert (fault, code) == ("Sender", "InvalidQueryParameter")
    healthy(srv)
    assert vmhwm_kib(srv.proc.pid) - before < VMHWM_GROWTH_KIB


def test_too_many_parameters_and_huge_indexes(srv):
    before = vmhwm_kib(srv.proc.pid)
    # 1 MiB of empty parameters: refused at the bound, not turned into a huge tree.
    body = "Action=DescribeStacks&Version=2010-05-15&" + "a=&" * 340_000
    status, out = request(srv, "POST", "/", body.encode(), "application/x-www-form-urlencoded")
    assert status == 400, out
    assert query_error(out)[1] == "InvalidQueryParameter"
    qs = urllib.parse.urlencode({"Action": "ListStacks", "Version": "2010-05-15",
                                 "StackStatusFilter.member.18446744073709551616": "CREATE_COMPLETE"})
    status, out = request(srv, "GET", "/?" + qs)
    assert status == 400, out
    assert query_error(out)[1] == "InvalidQueryParameter"
    healthy(srv)
    assert vmhwm_kib(srv.proc.pid) - before < VMHWM_GROWTH_KIB


def test_deep_json_body(srv):
    before = vmhwm_kib(srv.proc.pid)
    deep = '{"ProjectName":' + "[" * 500_000 + "]" * 500_000 + "}"
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("POST", "/", body=deep.encode(), headers={
        **AUTH, "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.DescribeProject"})
    r = conn.getresponse()
    out = json.loads(r.read())
    conn.close()
    assert r.status == 400
    assert out["__type"] == "SerializationException"
    healthy(srv)
    assert vmhwm_kib(srv.proc.pid) - before < VMHWM_GROWTH_KIB
