"""The embedded S3 endpoint, driven by boto3 and the AWS CLI against the real binary."""
import base64
import hashlib
import http.client
import os
import signal
import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, Server, client, failure_code
from conftest import code as error_code
from test_postgres_backend import pg_url  # noqa: F401  (fixture)

MIB = 1024 * 1024


def s3_client(url, key=ACCESS_KEY, secret="dummy-secret", **config):
    return client("s3", url, key=key, secret=secret, **config)


@pytest.fixture
def s3(server):
    return s3_client(server.url)


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


# --- buckets -------------------------------------------------------------------------


def test_bucket_lifecycle_location_and_errors(s3):
    s3.create_bucket(Bucket="alpha-bucket")
    s3.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == ["alpha-bucket", "eu-bucket"]
    assert s3.get_bucket_location(Bucket="alpha-bucket")["LocationConstraint"] is None
    assert s3.get_bucket_location(Bucket="eu-bucket")["LocationConstraint"] == "eu-west-1"
    s3.head_bucket(Bucket="alpha-bucket")

    # us-east-1 legacy: re-creating one's own bucket is 200; elsewhere 409.
    s3.create_bucket(Bucket="alpha-bucket")
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error_code(e) == "BucketAlreadyOwnedByYou" and status(e) == 409

    for bad in ["ab", "Upper-Case", "under_score", "-dash", "a..b", "192.168.0.1", "x" * 64]:
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket=bad)
        assert error_code(e) == "InvalidBucketName", bad
        assert status(e) == 400

    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="no-such-bucket")
    assert status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.get_bucket_location(Bucket="no-such-bucket")
    assert error_code(e) == "NoSuchBucket"
    assert "no-such-bucket" in e.value.response["Error"]["Message"]

    s3.put_object(Bucket="alpha-bucket", Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha-bucket")
    assert error_code(e) == "BucketNotEmpty" and status(e) == 409
    s3.delete_object(Bucket="alpha-bucket", Key="k")
    s3.delete_bucket(Bucket="alpha-bucket")
    assert failure_code(s3.delete_bucket, Bucket="alpha-bucket") == "NoSuchBucket"


def test_bucket_tagging(s3):
    s3.create_bucket(Bucket="tagged")
    assert failure_code(s3.get_bucket_tagging, Bucket="tagged") == "NoSuchTagSet"
    tags = [{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": ""}]
    s3.put_bucket_tagging(Bucket="tagged", Tagging={"TagSet": tags})
    assert s3.get_bucket_tagging(Bucket="tagged")["TagSet"] == tags
    assert failure_code(
        s3.put_bucket_tagging, Bucket="tagged", Tagging={"TagSet": [{"Key": "a", "Value": "1"},
        {"Key": "a", "Value": "2"}]},
    ) == "InvalidTag"
    assert failure_code(
        s3.put_bucket_tagging, Bucket="tagged", Tagging={"TagSet": [{"Key": "aws:x", "Value": "1"}]},
    ) == "InvalidTag"
    assert s3.get_bucket_tagging(Bucket="tagged")["TagSet"] == tags
    s3.delete_bucket_tagging(Bucket="tagged")
    assert failure_code(s3.get_bucket_tagging, Bucket="tagged") == "NoSuchTagSet"
    assert failure_code(
        s3.put_bucket_tagging, Bucket="nope-bucket", Tagging={"TagSet": tags},
    ) == "NoSuchBucket"


# --- objects -------------------------------------------------------------------------


def test_put_get_head_with_metadata_ranges_and_conditions(s3):
    s3.create_bucket(Bucket="objects")
    body = bytes(range(256)) * 40  # 10 KiB, every byte value
    md5 = hashlib.md5(body)
    out = s3.put_object(Bucket="objects", Key="dir/file.bin", Body=body, ContentType="application/x-test",
                        Metadata={"Owner": "me", "purpose": "test"},
                        ContentMD5=base64.b64encode(md5.digest()).decode())
    assert out["ETag"] == f'"{md5.hexdigest()}"'

    got = s3.get_object(Bucket="objects", Key="dir/file.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"owner": "me", "purpose": "test"}
    assert got["ETag"] == out["ETag"]
    assert got["ContentLength"] == len(body)

    head = s3.head_object(Bucket="objects", Key="dir/file.bin")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == out["ETag"]
    assert head["Metadata"] == {"owner": "me", "purpose": "test"}

    part = s3.get_object(Bucket="objects", Key="dir/file.bin", Range="bytes=10-19")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["Body"].read() == body[10:20]
    tail = s3.get_object(Bucket="objects", Key="dir/file.bin", Range="bytes=-5")
    assert tail["Body"].read() == body[-5:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="objects", Key="dir/file.bin", Range=f"bytes={len(body)}-")
    assert error_code(e) == "InvalidRange" and status(e) == 416

    assert s3.get_object(Bucket="objects", Key="dir/file.bin", IfMatch=out["ETag"])["Body"].read() == body
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="objects", Key="dir/file.bin", IfMatch='"0000"')
    assert status(e) == 412
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="objects", Key="dir/file.bin", IfNoneMatch=out["ETag"])
    assert status(e) == 304

    assert failure_code(
        s3.put_object, Bucket="objects", Key="bad", Body=b"abc",
        ContentMD5=base64.b64encode(hashlib.md5(b"abd").digest()).decode(),
    ) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="objects", Key="bad")
    assert error_code(e) == "NoSuchKey" and status(e) == 404
    assert "bad" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="objects", Key="bad")
    assert status(e) == 404
    assert failure_code(
        s3.put_object, Bucket="no-bucket-here", Key="k", Body=b"x",
    ) == "NoSuchBucket"

    # Deleting is idempotent.
    s3.delete_object(Bucket="objects", Key="dir/file.bin")
    s3.delete_object(Bucket="objects", Key="dir/file.bin")
    assert failure_code(s3.get_object, Bucket="objects", Key="dir/file.bin") == "NoSuchKey"


def test_entity_too_large(tmp_path):
    s = Server(str(tmp_path / "d"), {"SAGESTACK_S3_MAX_OBJECT_SIZE": "1024"}).start()
    try:
        c = s3_client(s.url)
        c.create_bucket(Bucket="small")
        c.put_object(Bucket="small", Key="ok", Body=b"x" * 1024)
        assert failure_code(
            c.put_object, Bucket="small", Key="big", Body=b"x" * 1025,
        ) == "EntityTooLarge"
    finally:
        s.stop()


def test_copy_object(s3):
    s3.create_bucket(Bucket="src-bucket")
    s3.create_bucket(Bucket="dst-bucket")
    s3.put_object(Bucket="src-bucket", Key="a b/é", Body=b"payload", ContentType="text/plain",
                  Metadata={"k": "v"})
    out = s3.copy_object(Bucket="dst-bucket", Key="copy", CopySource={"Bucket": "src-bucket", "Key": "a b/é"})
    assert out["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    got = s3.get_object(Bucket="dst-bucket", Key="copy")
    assert got["Body"].read() == b"payload"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"k": "v"}
    s3.copy_object(Bucket="dst-bucket", Key="replaced", CopySource="src-bucket/a b/é",
                   MetadataDirective="REPLACE", ContentType="application/json", Metadata={"x": "y"})
    got = s3.head_object(Bucket="dst-bucket", Key="replaced")
    assert got["ContentType"] == "application/json" and got["Metadata"] == {"x": "y"}
    assert failure_code(
        s3.copy_object, Bucket="dst-bucket", Key="copy", CopySource={"Bucket": "dst-bucket", "Key": "copy"},
    ) == "InvalidRequest"
    assert failure_code(
        s3.copy_object, Bucket="dst-bucket", Key="x", CopySource={"Bucket": "src-bucket", "Key": "missing"},
    ) == "NoSuchKey"


def test_delete_objects(s3):
    s3.create_bucket(Bucket="bulk")
    for i in range(5):
        s3.put_object(Bucket="bulk", Key=f"k{i}", Body=b"x")
    out = s3.delete_objects(Bucket="bulk", Delete={"Objects": [{"Key": "k0"}, {"Key": "k1"}, {"Key": "absent"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["absent", "k0", "k1"]
    assert "Errors" not in out
    quiet = s3.delete_objects(Bucket="bulk", Delete={"Objects": [{"Key": "k2"}], "Quiet": True})
    assert not quiet.get("Deleted")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bulk")["Contents"]]
    assert keys == ["k3", "k4"]
    assert failure_code(
        s3.delete_objects, Bucket="nobulk", Delete={"Objects": [{"Key": "k"}]},
    ) == "NoSuchBucket"


# --- listing -------------------------------------------------------------------------


def test_list_objects_v2_pagination_prefixes_and_encoding(s3):
    s3.create_bucket(Bucket="listing")
    keys = [f"photos/2024/{i:02d}.jpg" for i in range(7)] + ["photos/index.html", "readme", "z/a b+c"]
    for k in keys:
        s3.put_object(Bucket="listing", Key=k, Body=b"1")

    seen, token, pages = [], None, 0
    while True:
        kw = {"ContinuationToken": token} if token else {}
        out = s3.list_objects_v2(Bucket="listing", MaxKeys=3, **kw)
        pages += 1
        assert out["KeyCount"] == len(out.get("Contents", []))
        seen += [o["Key"] for o in out.get("Contents", [])]
        if not out["IsTruncated"]:
            assert "NextContinuationToken" not in out
            break
        token = out["NextContinuationToken"]
    assert seen == sorted(keys) and pages == 4

    out = s3.list_objects_v2(Bucket="listing", Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["photos/", "z/"]
    assert [o["Key"] for o in out["Contents"]] == ["readme"]
    assert out["KeyCount"] == 3
    out = s3.list_objects_v2(Bucket="listing", Prefix="photos/", Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["photos/2024/"]
    assert [o["Key"] for o in out["Contents"]] == ["photos/index.html"]
    out = s3.list_objects_v2(Bucket="listing", StartAfter="photos/2024/05.jpg", MaxKeys=2)
    assert [o["Key"] for o in out["Contents"]] == ["photos/2024/06.jpg", "photos/index.html"]

    # botocore asks for EncodingType=url and decodes the keys back.
    out = s3.list_objects_v2(Bucket="listing", Prefix="z/")
    assert [o["Key"] for o in out["Contents"]] == ["z/a b+c"]
    out = s3.list_objects(Bucket="listing", Prefix="z/")
    assert [o["Key"] for o in out["Contents"]] == ["z/a b+c"]

    # v1: Marker / NextMarker with a delimiter.
    out = s3.list_objects(Bucket="listing", Delimiter="/", MaxKeys=2)
    assert out["IsTruncated"] and out["NextMarker"] == "readme"
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["photos/"]
    out = s3.list_objects(Bucket="listing", Delimiter="/", Marker=out["NextMarker"])
    assert not out["IsTruncated"] and [p["Prefix"] for p in out["CommonPrefixes"]] == ["z/"]
    out = s3.list_objects(Bucket="listing", Marker="photos/index.html")
    assert [o["Key"] for o in out["Contents"]] == ["readme", "z/a b+c"]

    assert failure_code(s3.list_objects_v2, Bucket="nolisting") == "NoSuchBucket"
    assert failure_code(
        s3.list_objects_v2, Bucket="listing", ContinuationToken="!!!",
    ) == "InvalidArgument"


# --- multipart -----------------------------------------------------------------------


def test_multipart_upload_errors_and_etag(s3):
    s3.create_bucket(Bucket="multi")
    up = s3.create_multipart_upload(Bucket="multi", Key="big", ContentType="application/x-big",
                                    Metadata={"m": "1"})["UploadId"]
    p1 = b"a" * (5 * MIB)
    p2 = b"b" * 100
    e1 = s3.upload_part(Bucket="multi", Key="big", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket="multi", Key="big", UploadId=up, PartNumber=2, Body=p2)["ETag"]
    assert e1 == f'"{hashlib.md5(p1).hexdigest()}"'

    uploads = s3.list_multipart_uploads(Bucket="multi")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("big", up)]
    parts = s3.list_parts(Bucket="multi", Key="big", UploadId=up)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts["Parts"]] == [(1, len(p1), e1), (2, 100, e2)]
    page = s3.list_parts(Bucket="multi", Key="big", UploadId=up, MaxParts=1)
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 1

    for parts, expected in [
        ([(2, e2), (1, e1)], "InvalidPartOrder"),
        ([(1, e1), (3, e2)], "InvalidPart"),
        ([(1, e2), (2, e2)], "InvalidPart"),
        ([(2, e2), (3, e2)], "InvalidPart"),
    ]:
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(Bucket="multi", Key="big", UploadId=up, MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": etag} for n, etag in parts]})
        assert error_code(e) == expected, parts

    # A small non-last part.
    up2 = s3.create_multipart_upload(Bucket="multi", Key="small")["UploadId"]
    s1 = s3.upload_part(Bucket="multi", Key="small", UploadId=up2, PartNumber=1, Body=b"x")["ETag"]
    s2 = s3.upload_part(Bucket="multi", Key="small", UploadId=up2, PartNumber=2, Body=b"y")["ETag"]
    assert failure_code(
        s3.complete_multipart_upload, Bucket="multi", Key="small", UploadId=up2, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": s1}, {"PartNumber": 2, "ETag": s2}]},
    ) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket="multi", Key="small", UploadId=up2)
    assert failure_code(
        s3.abort_multipart_upload, Bucket="multi", Key="small", UploadId=up2,
    ) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="multi", Key="small", UploadId=up2, PartNumber=1, Body=b"x")
    assert error_code(e) == "NoSuchUpload"
    assert up2 in e.value.response["Error"]["Message"]

    out = s3.complete_multipart_upload(Bucket="multi", Key="big", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    expected = hashlib.md5(hashlib.md5(p1).digest() + hashlib.md5(p2).digest()).hexdigest() + "-2"
    assert out["ETag"] == f'"{expected}"'
    got = s3.get_object(Bucket="multi", Key="big")
    assert got["Body"].read() == p1 + p2
    assert got["ContentType"] == "application/x-big" and got["Metadata"] == {"m": "1"}
    assert got["ETag"] == out["ETag"]
    assert s3.list_multipart_uploads(Bucket="multi").get("Uploads", []) == []
    assert failure_code(s3.list_parts, Bucket="multi", Key="big", UploadId=up) == "NoSuchUpload"


def test_list_multipart_uploads_pages_by_key_and_upload_id(s3):
    s3.create_bucket(Bucket="uploads")
    ids = [(k, s3.create_multipart_upload(Bucket="uploads", Key=k)["UploadId"])
           for k in ["a", "b", "b", "c/d", "c/e"]]
    seen, kw = [], {}
    while True:
        out = s3.list_multipart_uploads(Bucket="uploads", MaxUploads=2, **kw)
        seen += [(u["Key"], u["UploadId"]) for u in out.get("Uploads", [])]
        if not out["IsTruncated"]:
            break
        kw = {"KeyMarker": out["NextKeyMarker"], "UploadIdMarker": out["NextUploadIdMarker"]}
    assert seen == ids
    out = s3.list_multipart_uploads(Bucket="uploads", Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["c/"]
    assert [u["Key"] for u in out["Uploads"]] == ["a", "b", "b"]
    out = s3.list_multipart_uploads(Bucket="uploads", Prefix="c/")
    assert [u["Key"] for u in out["Uploads"]] == ["c/d", "c/e"]


# --- authentication ------------------------------------------------------------------


@pytest.fixture
def sigv4_server(data_dir):
    """A server that verifies signatures: the conftest key pair, and no other."""
    s = Server(data_dir, {"SAGESTACK_AUTH": "sigv4"}).start()
    yield s
    s.stop()


def test_unknown_key_wrong_secret_and_anonymous(sigv4_server):
    server = sigv4_server
    with pytest.raises(ClientError) as e:
        s3_client(server.url, key="AKIDUNKNOWN").list_buckets()
    assert error_code(e) == "InvalidAccessKeyId" and status(e) == 403
    with pytest.raises(ClientError) as e:
        s3_client(server.url, secret="wrong-secret").list_buckets()
    assert error_code(e) == "SignatureDoesNotMatch" and status(e) == 403
    s3_client(server.url).create_bucket(Bucket="private")
    try:
        urllib.request.urlopen(server.url + "/private", timeout=5)
        raise AssertionError("anonymous request was served")
    except urllib.error.HTTPError as err:
        assert err.code == 403
        body = err.read().decode()
        assert "<Code>AccessDenied</Code>" in body and body.lstrip().startswith("<?xml")


def test_presigned_urls(sigv4_server):
    # Signatures are checked under --auth sigv4 (under none, any signature goes).
    s3 = s3_client(sigv4_server.url)
    s3.create_bucket(Bucket="presigned")
    s3.put_object(Bucket="presigned", Key="file.txt", Body=b"signed content")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "file.txt"},
                                    ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.read() == b"signed content"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "presigned", "Key": "up.txt"},
                                        ExpiresIn=60)
    # http.client, not urllib: urllib would add a form Content-Type the URL was not
    # signed with.
    parts = urllib.parse.urlsplit(put_url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=5)
    conn.request("PUT", f"{parts.path}?{parts.query}", body=b"uploaded")
    r = conn.getresponse()
    assert r.status == 200, r.read()
    conn.close()
    assert s3.get_object(Bucket="presigned", Key="up.txt")["Body"].read() == b"uploaded"
    tampered = url.replace("file.txt", "other.txt")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=5)
    assert e.value.code == 403


def test_virtual_hosted_style_on_localhost(server):
    c = s3_client(server.url.replace("127.0.0.1", "localhost"), s3={"addressing_style": "virtual"})

    # `<bucket>.localhost` need not resolve here: connect to 127.0.0.1, keep the Host
    # header the request was signed with.
    def to_loopback(request, **_):
        netloc = urllib.parse.urlsplit(request.url).netloc
        request.headers["Host"] = netloc
        request.url = request.url.replace(netloc.split(":")[0], "127.0.0.1", 1)

    c.meta.events.register("before-send.s3", to_loopback)
    c.create_bucket(Bucket="vhost-bucket")
    c.put_object(Bucket="vhost-bucket", Key="k", Body=b"v")
    # DeleteObjects is a POST to /?delete on the bucket's host: S3, never Query.
    out = c.delete_objects(Bucket="vhost-bucket", Delete={"Objects": [{"Key": "k"}]})
    assert [d["Key"] for d in out["Deleted"]] == ["k"]
    assert [b["Name"] for b in s3_client(server.url).list_buckets()["Buckets"]] == ["vhost-bucket"]


# --- AWS CLI -------------------------------------------------------------------------


def test_aws_cli_high_level_commands(aws, tmp_path):
    rc, out, err = aws("mb", "s3://cli-bucket", service="s3")
    assert rc == 0, err
    small = tmp_path / "small.txt"
    small.write_text("hello from the cli\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * MIB))  # above the CLI's 8 MiB multipart threshold
    rc, out, err = aws("cp", str(small), "s3://cli-bucket/docs/small.txt", service="s3")
    assert rc == 0, err
    rc, out, err = aws("cp", str(big), "s3://cli-bucket/data/big.bin", service="s3")
    assert rc == 0, err

    rc, out, err = aws("ls", service="s3")
    assert rc == 0 and "cli-bucket" in out
    rc, out, err = aws("ls", "s3://cli-bucket/", service="s3")
    assert rc == 0 and "PRE docs/" in out and "PRE data/" in out
    rc, out, err = aws("ls", "s3://cli-bucket/data/", service="s3")
    assert rc == 0 and str(20 * MIB) in out and "big.bin" in out

    down = tmp_path / "down.bin"
    rc, out, err = aws("cp", "s3://cli-bucket/data/big.bin", str(down), service="s3")
    assert rc == 0, err
    assert down.read_bytes() == big.read_bytes()

    rc, head, err = aws("head-object", "--bucket", "cli-bucket", "--key", "data/big.bin", service="s3api")
    assert rc == 0, err
    assert head["ContentLength"] == 20 * MIB and head["ETag"].endswith('-3"')
    target = tmp_path / "got.txt"
    rc, meta, err = aws("get-object", "--bucket", "cli-bucket", "--key", "docs/small.txt", str(target),
                        service="s3api")
    assert rc == 0, err
    assert target.read_text() == "hello from the cli\n" and meta["ContentLength"] == 19

    rc, out, err = aws("list-objects-v2", "--bucket", "cli-bucket", "--max-items", "1", service="s3api")
    assert rc == 0 and len(out["Contents"]) == 1 and out["NextToken"]
    rc, out2, err = aws("list-objects-v2", "--bucket", "cli-bucket", "--starting-token", out["NextToken"],
                        service="s3api")
    assert rc == 0 and [o["Key"] for o in out2["Contents"]] == ["docs/small.txt"]

    rc, out, err = aws("rb", "s3://cli-bucket", service="s3")
    assert rc != 0 and "BucketNotEmpty" in err
    rc, out, err = aws("rb", "s3://cli-bucket", "--force", service="s3")
    assert rc == 0, err
    rc, out, err = aws("ls", "s3://cli-bucket", service="s3")
    assert rc != 0 and "NoSuchBucket" in err


# --- durability ----------------------------------------------------------------------


@pytest.mark.durable_only("restarts and kills the server on its data directory")
def test_objects_survive_restart_and_kill_9(data_dir):
    s = Server(data_dir).start()
    c = s3_client(s.url)
    c.create_bucket(Bucket="durable")
    c.put_bucket_tagging(Bucket="durable", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    bodies = {f"k{i}": os.urandom(1000 + i) for i in range(10)}
    for k, b in bodies.items():
        c.put_object(Bucket="durable", Key=k, Body=b)
    up = c.create_multipart_upload(Bucket="durable", Key="pending")["UploadId"]
    c.upload_part(Bucket="durable", Key="pending", UploadId=up, PartNumber=1, Body=b"part")
    assert s.kill9() == -signal.SIGKILL

    s = Server(data_dir).start()
    try:
        c = s3_client(s.url)
        for k, b in bodies.items():
            assert c.get_object(Bucket="durable", Key=k)["Body"].read() == b
        assert c.get_bucket_tagging(Bucket="durable")["TagSet"] == [{"Key": "k", "Value": "v"}]
        parts = c.list_parts(Bucket="durable", Key="pending", UploadId=up)["Parts"]
        assert [p["Size"] for p in parts] == [4]
        c.delete_object(Bucket="durable", Key="k0")
    finally:
        assert s.stop() == 0

    s = Server(data_dir).start()
    try:
        keys = [o["Key"] for o in s3_client(s.url).list_objects_v2(Bucket="durable")["Contents"]]
        assert keys == sorted(k for k in bodies if k != "k0")
    finally:
        s.stop()


def test_s3_and_json_services_share_the_port(server, s3, sm):
    s3.create_bucket(Bucket="shared-port")
    assert sm.list_projects()["ProjectSummaryList"] == []
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["shared-port"]


def test_two_postgres_replicas_share_buckets_and_objects(tmp_path, pg_url):
    a = Server(str(tmp_path / "a"), extra_env={"SAGESTACK_DATABASE_URL": pg_url}).start()
    b = Server(str(tmp_path / "b"), extra_env={"SAGESTACK_DATABASE_URL": pg_url}).start()
    try:
        ca, cb = s3_client(a.url), s3_client(b.url)
        ca.create_bucket(Bucket="shared-bucket")
        body = os.urandom(6 * MIB)
        ca.put_object(Bucket="shared-bucket", Key="k", Body=body)
        assert cb.get_object(Bucket="shared-bucket", Key="k")["Body"].read() == body
        # A multipart upload started on one replica is finished on the other.
        up = ca.create_multipart_upload(Bucket="shared-bucket", Key="m")["UploadId"]
        e1 = ca.upload_part(Bucket="shared-bucket", Key="m", UploadId=up, PartNumber=1, Body=body)["ETag"]
        e2 = cb.upload_part(Bucket="shared-bucket", Key="m", UploadId=up, PartNumber=2, Body=b"end")["ETag"]
        cb.complete_multipart_upload(Bucket="shared-bucket", Key="m", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        assert ca.get_object(Bucket="shared-bucket", Key="m")["Body"].read() == body + b"end"
        assert failure_code(
            cb.create_bucket, Bucket="shared-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
        ) == "BucketAlreadyOwnedByYou"
    finally:
        a.stop()
        b.stop()
