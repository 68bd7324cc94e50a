"""The AWS round trips under valgrind memcheck, against one moto server:
`cloudrec s3 put/get/ls/rm`, `sqs create/send/recv/del`, `ec2 run/ls/
terminate` (successes and error paths) and svc_check for the three
services. No invalid access and no leak (definite or possible) may remain.
Registered only for builds without sanitizers (tests/integration/meson.build).
"""
import json
import os
import secrets
import shutil
from pathlib import Path

import pytest

from moto_server import MotoServer, built, run

DOG = Path("/usr/share/darknet/data/dog.jpg")
SUPP = Path(os.environ.get("CLOUDREC_SOURCE_ROOT", ".")) / "tests" / "valgrind.supp"
VALGRIND_FAILED = 99


@pytest.fixture(scope="module")
def env():
    # Memory, not signatures, is checked here; svc_check's object names
    # have bytes that moto cannot verify signatures of (see test_s3.py).
    with MotoServer(authenticated=False) as server:
        yield server.env()


def memcheck(env, *args, timeout=600, **kw):
    """Runs args under valgrind; fails the test on any memcheck error."""
    valgrind = shutil.which("valgrind")
    assert valgrind, "valgrind is needed (apt-get install valgrind)"
    proc = run([valgrind, "-q", f"--error-exitcode={VALGRIND_FAILED}", "--leak-check=full",
                "--errors-for-leak-kinds=definite,possible", f"--suppressions={SUPP}", *args],
               env, timeout=timeout, **kw)
    assert proc.returncode != VALGRIND_FAILED, proc.stderr
    return proc


def cloudrec(env, *args, want=0, **kw):
    proc = memcheck(env, os.environ["CLOUDREC_CLI"], *args, **kw)
    assert proc.returncode == want, (args, proc.stderr)
    return proc


def test_s3_round_trip(env, tmp_path):
    bucket = "vg-" + secrets.token_hex(4)
    cloudrec(env, "s3", "mb", f"s3://{bucket}")
    cloudrec(env, "s3", "put", DOG, f"s3://{bucket}/dog.jpg", "--json")
    cloudrec(env, "s3", "get", f"s3://{bucket}/dog.jpg", tmp_path / "dog.jpg")
    assert (tmp_path / "dog.jpg").read_bytes() == DOG.read_bytes()
    cloudrec(env, "s3", "head", f"s3://{bucket}/dog.jpg")
    cloudrec(env, "s3", "ls", f"s3://{bucket}", "--json")
    cloudrec(env, "s3", "rm", f"s3://{bucket}/dog.jpg")
    cloudrec(env, "s3", "get", f"s3://{bucket}/dog.jpg", tmp_path / "x", want=1)
    cloudrec(env, "s3", "ls", "s3://no-such-bucket-vg", want=1)


def test_sqs_round_trip(env):
    queue = "vg-" + secrets.token_hex(4)
    cloudrec(env, "sqs", "create", queue, "--visibility", "30")
    cloudrec(env, "sqs", "send", queue, "one")
    cloudrec(env, "sqs", "send", queue, "two", "three", "--json")
    got = json.loads(cloudrec(env, "sqs", "recv", queue, "--max", "10", "--wait", "1",
                              "--json").stdout)["messages"]
    assert sorted(m["body"] for m in got) == ["one", "three", "two"]
    cloudrec(env, "sqs", "del", queue, got[0]["receipt_handle"])
    cloudrec(env, "sqs", "del", queue, *[m["receipt_handle"] for m in got[1:]])
    cloudrec(env, "sqs", "attrs", queue)
    cloudrec(env, "sqs", "del", queue, "bad-receipt", want=1)
    cloudrec(env, "sqs", "del", queue, "bad-1", "bad-2", "--json", want=1)
    cloudrec(env, "sqs", "url", "no-such-queue-vg", want=1)


def test_ec2_round_trip(env):
    doc = json.loads(cloudrec(env, "ec2", "run", "--image", "ami-12c6146b", "--count", "2",
                              "--tag", "Name=vg", "--user-data-text", "echo hi",
                              "--json").stdout)
    ids = [i["instance_id"] for i in doc["instances"]]
    cloudrec(env, "ec2", "ls", "--tag", "Name=vg", "--max-results", "5")
    cloudrec(env, "ec2", "terminate", *ids)
    cloudrec(env, "ec2", "terminate", "i-0000000000000000f", want=1)


@pytest.mark.parametrize("service", ["s3", "sqs", "ec2"])
def test_c_library(env, service):
    proc = memcheck(env, built("tests", "integration", "svc_check"), service,
                    "vg" + secrets.token_hex(3), timeout=900)
    assert proc.returncode == 0 and "not ok" not in proc.stdout, proc.stdout
