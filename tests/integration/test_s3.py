"""S3 through the C library (svc_check, the s3_roundtrip example) and the CLI
(`cloudrec s3 mb|put|get|head|ls|rm`), against one moto server on 127.0.0.1
for the whole module. Nothing here talks to real AWS."""
import os
import secrets
from pathlib import Path

import pytest

from moto_server import cloudrec, cloudrec_json, MotoServer, built, run, run_tap

DOG = Path("/usr/share/darknet/data/dog.jpg")


@pytest.fixture(scope="module")
def unsigned_env():
    """A second server that accepts any signature, for keys and prefixes with
    reserved bytes ("+", "%", "/" in a query, UTF-8): moto (5.x) verifies
    those requests wrongly and refuses them -- boto3's as well as ours. The
    SigV4 test vectors (unit test sigv4) check how we sign such names."""
    with MotoServer(authenticated=False) as server:
        yield server.env()


@pytest.fixture
def bucket(env):
    """A fresh bucket for one test."""
    name = "t-" + secrets.token_hex(6)
    proc = cli(env, "mb", f"s3://{name}")
    assert proc.returncode == 0, proc.stderr
    return name


def cli(env, *args, **kw):
    return cloudrec(env, "s3", *args, **kw)


def cli_json(env, *args):
    return cloudrec_json(env, "s3", *args)


def test_c_library(unsigned_env):
    run_tap([built("tests", "integration", "svc_check"), "s3", "c" + secrets.token_hex(4)],
            unsigned_env)


def test_example_roundtrip(env):
    proc = run([built("examples", "s3_roundtrip"), "ex-" + secrets.token_hex(4), DOG], env)
    assert proc.returncode == 0, proc.stderr
    assert "fetched 163759 bytes: identical" in proc.stdout


def test_mb_is_idempotent_in_any_region(env):
    name = "mb-" + secrets.token_hex(4)
    for _ in range(2):
        proc = cli(env, "mb", f"s3://{name}")
        assert proc.returncode == 0 and proc.stdout == f"make_bucket: s3://{name} (us-east-1)\n"
    eu = "mb-eu-" + secrets.token_hex(4)
    for _ in range(2):  # outside us-east-1 the second create is BucketAlreadyOwnedByYou
        doc = cli_json(env, "mb", f"s3://{eu}", "--region", "eu-west-1")
        assert doc == {"bucket": eu, "region": "eu-west-1"}
    proc = cli(env, "mb", "s3://ab")
    assert proc.returncode == 1 and "InvalidBucketName" in proc.stderr
    assert "[ERR_INVALID]" in proc.stderr


def test_put_get_head_rm_round_trip(env, bucket, tmp_path):
    info = cli_json(env, "put", DOG, f"s3://{bucket}/images/")
    assert info["key"] == "images/dog.jpg" and info["size"] == DOG.stat().st_size
    assert info["content_type"] == "image/jpeg" and len(info["etag"]) == 32

    head = cli_json(env, "head", f"s3://{bucket}/images/dog.jpg")
    assert head["size"] == info["size"] and head["etag"] == info["etag"]
    assert head["content_type"] == "image/jpeg" and head["last_modified"].endswith("Z")
    text = cli(env, "head", f"s3://{bucket}/images/dog.jpg").stdout
    assert f"size           {info['size']}" in text

    out = tmp_path / "dog.jpg"
    got = cli_json(env, "get", f"s3://{bucket}/images/dog.jpg", out)
    assert out.read_bytes() == DOG.read_bytes() and got["etag"] == info["etag"]
    proc = cli(env, "get", f"s3://{bucket}/images/dog.jpg", text=False)
    assert proc.returncode == 0 and proc.stdout == DOG.read_bytes(), "no FILE: stdout"

    proc = cli(env, "put", "-", f"s3://{bucket}/from stdin.txt", input=b"hello\n", text=False)
    assert proc.returncode == 0, proc.stderr
    assert cli(env, "get", f"s3://{bucket}/from stdin.txt", "-").stdout == "hello\n"
    assert cli_json(env, "head", f"s3://{bucket}/from stdin.txt")["content_type"] == "text/plain"
    typed = cli_json(env, "put", DOG, f"s3://{bucket}/x", "--content-type", "application/x-dog")
    assert typed["content_type"] == "application/x-dog"

    assert cli(env, "rm", f"s3://{bucket}/images/dog.jpg").stdout == \
        f"delete: s3://{bucket}/images/dog.jpg\n"
    proc = cli(env, "head", f"s3://{bucket}/images/dog.jpg")
    assert proc.returncode == 1 and "[ERR_NOT_FOUND]" in proc.stderr
    again = cli_json(env, "rm", f"s3://{bucket}/images/dog.jpg")
    assert again == {"bucket": bucket, "key": "images/dog.jpg", "deleted": True}


def test_ls_pages_and_prefixes(unsigned_env, tmp_path):
    env = unsigned_env
    bucket = "t-" + secrets.token_hex(6)
    assert cli(env, "mb", f"s3://{bucket}").returncode == 0
    src = tmp_path / "one.txt"
    src.write_text("1")
    keys = [f"p/{c}" for c in ("a", "b c", "d+e", "f%g", "h", "i", "\u00e9t\u00e9")]
    for k in keys:
        assert cli(env, "put", src, f"s3://{bucket}/{k}").returncode == 0
    cli(env, "put", src, f"s3://{bucket}/other")

    listing = cli_json(env, "ls", f"s3://{bucket}/p/", "--max-keys", "3")
    assert [o["key"] for o in listing["objects"]] == keys, "every page was followed"
    assert listing["next_token"] is None
    assert all(o["size"] == 1 and o["storage_class"] for o in listing["objects"])

    first = cli_json(env, "ls", f"s3://{bucket}/p/", "--max-keys", "3", "--one-page")
    assert [o["key"] for o in first["objects"]] == keys[:3] and first["next_token"]
    second = cli_json(env, "ls", f"s3://{bucket}/p/", "--max-keys", "3", "--one-page",
                      "--token", first["next_token"])
    assert [o["key"] for o in second["objects"]] == keys[3:6]

    table = cli(env, "ls", f"s3://{bucket}")
    assert table.returncode == 0 and len(table.stdout.splitlines()) == 8
    assert table.stdout.splitlines()[0].endswith("  other")
    paged = cli(env, "ls", f"s3://{bucket}/p/", "--max-keys", "2", "--one-page")
    assert len(paged.stdout.splitlines()) == 2 and "--token " in paged.stderr
    assert cli_json(env, "ls", f"s3://{bucket}/nothing/")["objects"] == []


def test_missing_bucket_and_key_errors(env, bucket, tmp_path):
    missing = "nb-" + secrets.token_hex(4)
    cases = [
        (("get", f"s3://{bucket}/nope", tmp_path / "x"), "NoSuchKey"),
        (("get", f"s3://{missing}/k", tmp_path / "x"), "NoSuchBucket"),
        (("put", DOG, f"s3://{missing}/k"), "NoSuchBucket"),
        (("ls", f"s3://{missing}"), "NoSuchBucket"),
        (("rm", f"s3://{missing}/k"), "NoSuchBucket"),
        (("head", f"s3://{bucket}/nope"), "HTTP status 404"),
    ]
    for args, code in cases:
        proc = cli(env, *args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert code in proc.stderr and "[ERR_NOT_FOUND]" in proc.stderr, proc.stderr
        assert len(proc.stderr.splitlines()) == 1, "one line per error"
    assert not (tmp_path / "x").exists(), "a failed get writes nothing"
    proc = cli(env, "put", tmp_path / "no-such-file", f"s3://{bucket}/k")
    assert proc.returncode == 1 and "no-such-file" in proc.stderr


@pytest.mark.parametrize("args", [
    (), ("frobnicate",), ("mb",), ("mb", "bucket"), ("mb", "s3://"), ("mb", "s3://b/key"),
    ("put", DOG), ("put", "-", "s3://b/"), ("get", "s3://b"), ("get", "s3://b/k", "--json"),
    ("ls", "s3://b", "--max-keys", "0"), ("ls", "s3://b", "--bogus"), ("rm", "s3://b"),
    ("head", "s3://b/k", "extra"),
])
def test_usage_errors_exit_2(env, args):
    proc = cli(env, *args)
    assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
    assert proc.stderr and not proc.stdout


def test_help(env):
    for args in (("--help",), ("put", "--help")):
        proc = cli(env, *args)
        assert proc.returncode == 0 and "cloudrec s3 put FILE|- s3://BUCKET[/KEY]" in proc.stdout
    top = run([os.environ["CLOUDREC_CLI"], "--help"], env)
    assert "s3 mb|put|get|head|ls|rm" in top.stdout and "ec2 run|ls|terminate" in top.stdout


def test_verbose_names_the_source_never_the_secret(env, bucket):
    proc = cli(env, "ls", f"s3://{bucket}", "-v")
    assert proc.returncode == 0
    assert "credentials=environment" in proc.stderr and env["AWS_ENDPOINT_URL"] in proc.stderr
    proc = run([os.environ["CLOUDREC_CLI"], "-v", "s3", "ls", f"s3://{bucket}", "-v"], env)
    assert proc.returncode == 0 and "component=aws" in proc.stderr, "global -v logs requests"
    assert env["AWS_SECRET_ACCESS_KEY"] not in proc.stderr + proc.stdout


def test_setup_errors(env, bucket):
    no_keys = {k: v for k, v in env.items() if not k.startswith("AWS_SECRET")}
    no_keys.pop("AWS_ACCESS_KEY_ID")
    proc = cli(no_keys, "ls", f"s3://{bucket}")
    assert proc.returncode == 1 and "[ERR_AUTH]" in proc.stderr
    assert "no AWS credentials" in proc.stderr
    no_region = dict(env)
    del no_region["AWS_REGION"]
    proc = cli(no_region, "ls", f"s3://{bucket}")
    assert proc.returncode == 2 and "region" in proc.stderr
