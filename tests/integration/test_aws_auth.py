"""Signatures checked for real: moto with IAM authentication on.

The server starts with INITIAL_NO_AUTH_ACTION_COUNT=3, so only the first
three requests go unchecked. The fixture spends them on creating an IAM
user, an access key and an allow-everything policy (boto3, a moto dependency,
is used for that set-up only). From then on every request must be signed with
SigV4 by a key moto knows, whose policy allows the action. Our CLI and
examples must work with that key, and fail with an authentication error
(exit 1) with a wrong secret or an unknown key.
"""
import json
import os
import secrets
import urllib.error
from pathlib import Path

import pytest

from moto_server import MotoServer, REGION, built, run

DOG = Path("/usr/share/darknet/data/dog.jpg")
ALLOW_ALL = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@pytest.fixture(scope="module")
def moto():
    with MotoServer(auth_free_requests=3) as server:
        yield server


@pytest.fixture(scope="module")
def iam_key(moto):
    """(access key id, secret) of an IAM user allowed everything."""
    import boto3
    iam = boto3.client("iam", endpoint_url=moto.url, region_name=REGION,
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="ci")                                   # free request 1
    key = iam.create_access_key(UserName="ci")["AccessKey"]          # free request 2
    iam.put_user_policy(UserName="ci", PolicyName="all",             # free request 3
                        PolicyDocument=ALLOW_ALL)
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="module")
def env(moto, iam_key):
    return moto.env(AWS_ACCESS_KEY_ID=iam_key[0], AWS_SECRET_ACCESS_KEY=iam_key[1])


def cli(env, *args, **kw):
    return run([os.environ["CLOUDREC_CLI"], *args], env, **kw)


def ok(env, *args, **kw):
    proc = cli(env, *args, **kw)
    assert proc.returncode == 0, (args, proc.stderr)
    return proc


def test_unsigned_requests_are_refused_now(moto, iam_key):
    """The free requests are spent: moto checks from here on."""
    with pytest.raises(urllib.error.HTTPError) as e:
        moto.raw_query("sqs", "Action=ListQueues&Version=2012-11-05")
    assert e.value.code == 403


def test_cli_with_the_iam_key(env, iam_key, tmp_path):
    bucket = "auth-" + secrets.token_hex(4)
    ok(env, "s3", "mb", f"s3://{bucket}")
    ok(env, "s3", "put", DOG, f"s3://{bucket}/in put/dog.jpg")
    ok(env, "s3", "head", f"s3://{bucket}/in put/dog.jpg")
    ok(env, "s3", "get", f"s3://{bucket}/in put/dog.jpg", tmp_path / "dog.jpg")
    assert (tmp_path / "dog.jpg").read_bytes() == DOG.read_bytes()
    assert "in put/dog.jpg" in ok(env, "s3", "ls", f"s3://{bucket}/in", "--max-keys", "1").stdout
    ok(env, "s3", "rm", f"s3://{bucket}/in put/dog.jpg")

    queue = "auth-" + secrets.token_hex(4)
    ok(env, "sqs", "create", queue, "--visibility", "30")
    ok(env, "sqs", "send", queue, "a body with spaces & symbols = +/~%", "second")
    got = json.loads(ok(env, "sqs", "recv", queue, "--max", "10", "--wait", "1",
                        "--json").stdout)["messages"]
    assert sorted(m["body"] for m in got) == ["a body with spaces & symbols = +/~%", "second"]
    ok(env, "sqs", "visibility", queue, got[0]["receipt_handle"], "20")
    ok(env, "sqs", "del", queue, *[m["receipt_handle"] for m in got])
    assert json.loads(ok(env, "sqs", "attrs", queue, "--json").stdout)["QueueArn"]
    ok(env, "sqs", "purge", queue)

    run_doc = json.loads(ok(env, "ec2", "run", "--image", "ami-12c6146b", "--tag", "Name=auth x",
                            "--user-data-text", "#!/bin/sh\necho hi", "--json").stdout)
    iid = run_doc["instances"][0]["instance_id"]
    assert iid in ok(env, "ec2", "ls", "--tag", "Name=auth x").stdout
    ok(env, "ec2", "terminate", iid)

    verbose = ok(env, "sqs", "url", queue, "-v")
    assert "credentials=environment" in verbose.stderr
    assert iam_key[1] not in verbose.stderr + verbose.stdout


def test_examples_with_the_iam_key(env):
    proc = run([built("examples", "s3_roundtrip"), "auth-ex-" + secrets.token_hex(3), DOG], env)
    assert proc.returncode == 0 and "identical" in proc.stdout, proc.stderr
    proc = run([built("examples", "sqs_roundtrip"), "auth-ex", "signed"], env)
    assert proc.returncode == 0 and "deleted" in proc.stdout, proc.stderr
    proc = run([built("examples", "ec2_list"), "Name=auth x"], env)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("args, code", [
    (("s3", "ls", "s3://anything"), "SignatureDoesNotMatch"),
    (("s3", "put", str(DOG), "s3://anything/dog.jpg"), "SignatureDoesNotMatch"),
    (("sqs", "create", "wrong-secret"), "SignatureDoesNotMatch"),
    (("sqs", "send", "http://127.0.0.1/123456789012/q", "x"), "SignatureDoesNotMatch"),
    (("ec2", "ls"), "AuthFailure"),
    (("ec2", "run", "--image", "ami-12c6146b"), "AuthFailure"),
])
def test_wrong_secret_is_an_auth_error(env, args, code):
    bad = dict(env, AWS_SECRET_ACCESS_KEY="not-the-secret-" + secrets.token_hex(4))
    proc = cli(bad, *args)
    assert proc.returncode == 1, proc.stderr
    assert code in proc.stderr and "[ERR_AUTH]" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert bad["AWS_SECRET_ACCESS_KEY"] not in proc.stderr


def test_unknown_key_is_an_auth_error(env):
    bad = dict(env, AWS_ACCESS_KEY_ID="AKIAUNKNOWNKEY000000")
    for args in (("sqs", "url", "x"), ("s3", "ls", "s3://x"), ("ec2", "ls")):
        proc = cli(bad, *args)
        assert proc.returncode == 1 and "[ERR_AUTH]" in proc.stderr, (args, proc.stderr)
