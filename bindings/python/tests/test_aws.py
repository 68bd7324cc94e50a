"""The binding's AWS part (cloudrec.Aws: S3 put/get, SQS send/receive/delete)
against a moto server on 127.0.0.1, one for the module. Nothing here talks
to real AWS."""
import os
import secrets
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import cloudrec  # noqa: E402
from moto_server import MotoServer  # noqa: E402


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def aws_environment(moto):
    """The process environment the library reads (AWS_* of the moto env)."""
    saved = dict(os.environ)
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[k]
    os.environ.update({k: v for k, v in moto.env().items() if k.startswith("AWS_")})
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def aws():
    with cloudrec.Aws() as a:
        yield a


def test_open_from_env_and_options(aws, moto):
    assert aws.region == "us-east-1" and aws.credentials_source == "environment"
    with cloudrec.Session(region="eu-west-1", access_key_id="AKIDEXPLICIT",
                          secret_access_key="s", endpoint_url=moto.url) as explicit:
        assert explicit.region == "eu-west-1" and explicit.credentials_source == "explicit"
    with pytest.raises(cloudrec.AwsError) as e:
        cloudrec.Aws(access_key_id="only-one-half")
    assert e.value.name == "ERR_AUTH" and moto.secret not in str(e.value)


def test_s3_put_get(aws):
    bucket = "py-" + secrets.token_hex(4)
    aws.s3_create_bucket(bucket)
    aws.s3_create_bucket(bucket)  # owned already: success
    data = bytes(range(256)) * 100
    info = aws.s3_put(bucket, "dir/all bytes.bin", data, content_type="application/x-test")
    assert info["size"] == len(data) and len(info["etag"]) == 32
    assert info["key"] == "dir/all bytes.bin" and info["content_type"] == "application/x-test"
    assert aws.s3_get(bucket, "dir/all bytes.bin") == data
    aws.s3_put(bucket, "empty", b"")
    assert aws.s3_get(bucket, "empty") == b""
    with pytest.raises(cloudrec.TooLarge) as e:
        aws.s3_get(bucket, "dir/all bytes.bin", max_bytes=10)
    assert e.value.name == "ERR_TOO_LARGE"


def test_s3_errors_carry_aws_detail(aws):
    bucket = "py-" + secrets.token_hex(4)
    aws.s3_create_bucket(bucket)
    with pytest.raises(cloudrec.NotFound) as e:
        aws.s3_get(bucket, "missing")
    assert e.value.name == "ERR_NOT_FOUND" and e.value.aws_code == "NoSuchKey"
    assert e.value.http_status == 404 and e.value.request_id
    assert "NoSuchKey" in str(e.value)
    with pytest.raises(cloudrec.CloudrecError) as e:
        aws.s3_put("no-such-bucket-" + secrets.token_hex(3), "k", b"x")
    assert e.value.aws_code == "NoSuchBucket" and e.value.status == 4


def test_sqs_send_receive_delete(aws):
    url = aws.sqs_create_queue("py-" + secrets.token_hex(4), visibility_timeout_s=30)
    assert aws.sqs_queue_url(url.rsplit("/", 1)[1]) == url
    ids = [aws.sqs_send(url, "h\u00e9llo <xml> & 'quotes'"), aws.sqs_send(url, b"second")]
    assert all(len(i) == 36 for i in ids)
    got = aws.sqs_receive(url, max_messages=10, wait_s=1)
    assert sorted(m.body for m in got) == sorted(["h\u00e9llo <xml> & 'quotes'", "second"])
    assert sorted(m.message_id for m in got) == sorted(ids)
    for m in got:
        assert m.receive_count == 1 and m.sent_ms > 0 and m.receipt_handle
        assert m.attributes["ApproximateReceiveCount"] == "1" and "SenderId" in m.attributes
        assert "SqsMessage(" in repr(m)
    assert aws.sqs_receive(url, wait_s=0) == [], "in flight: nothing visible"
    for m in got:
        aws.sqs_delete(url, m.receipt_handle)
    assert aws.sqs_receive(url, wait_s=1, visibility_timeout_s=0) == []


def test_sqs_visibility_zero_redelivers(aws):
    url = aws.sqs_create_queue("py-" + secrets.token_hex(4))
    aws.sqs_send(url, "again")
    first = aws.sqs_receive(url, wait_s=1, visibility_timeout_s=0)
    assert [m.receive_count for m in first] == [1]
    second = aws.sqs_receive(url, wait_s=2)
    assert [m.body for m in second] == ["again"] and second[0].receive_count == 2


def test_sqs_errors(aws, moto):
    url = aws.sqs_create_queue("py-" + secrets.token_hex(4))
    with pytest.raises(cloudrec.InvalidInput) as e:
        aws.sqs_delete(url, "not-a-receipt-handle")
    assert e.value.name == "ERR_INVALID" and e.value.aws_code == "ReceiptHandleIsInvalid"
    assert e.value.http_status == 400
    with pytest.raises(cloudrec.CloudrecError) as e:
        aws.sqs_queue_url("no-such-queue-" + secrets.token_hex(3))
    assert e.value.name == "ERR_NOT_FOUND"
    with pytest.raises(cloudrec.CloudrecError) as e:
        aws.sqs_send(url, "")
    assert e.value.name == "ERR_INVALID" and e.value.http_status == 0
    with pytest.raises(cloudrec.CloudrecError) as e:
        aws.sqs_receive(url, max_messages=11)
    assert e.value.name == "ERR_INVALID"


def test_closed_context_raises(moto):
    a = cloudrec.Aws()
    a.close()
    a.close()
    with pytest.raises(cloudrec.StateError) as e:
        a.s3_get("b", "k")
    assert e.value.name == "ERR_STATE"
