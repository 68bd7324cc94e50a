"""SQS through the C library (svc_check, the sqs_roundtrip example) and the CLI
(`cloudrec sqs create|url|send|recv|del|visibility|attrs|purge`), against one
moto server on 127.0.0.1 for the whole module (query API, XML answers)."""
import json
import os
import secrets
import subprocess
import time

import pytest

from moto_server import cloudrec, cloudrec_json, built, run, run_tap


def cli(env, *args, **kw):
    return cloudrec(env, "sqs", *args, **kw)


def cli_json(env, *args, **kw):
    return cloudrec_json(env, "sqs", *args, **kw)


@pytest.fixture
def queue(env):
    """A fresh queue (name, URL) for one test."""
    name = "q-" + secrets.token_hex(5)
    return name, cli_json(env, "create", name)["queue_url"]


def test_c_library(env):
    run_tap([built("tests", "integration", "svc_check"), "sqs", "c" + secrets.token_hex(4)], env)


def test_example_roundtrip(env):
    proc = run([built("examples", "sqs_roundtrip"), "ex-" + secrets.token_hex(4), "hi there"],
               env)
    assert proc.returncode == 0, proc.stderr
    assert 'received "hi there" (receive count 1)' in proc.stdout and "deleted" in proc.stdout


def test_create_with_attributes_and_url(env):
    dlq = "dlq-" + secrets.token_hex(4)
    dlq_url = cli(env, "create", dlq).stdout.strip()
    arn = cli_json(env, "attrs", dlq)["QueueArn"]
    name = "work-" + secrets.token_hex(4)
    flags = ["--visibility", "5", "--retention", "3600", "--wait", "2", "--dlq", arn,
             "--max-receives", "3", "--attr", "DelaySeconds=0"]
    url = cli_json(env, "create", name, *flags)["queue_url"]
    assert url.endswith("/" + name) and url != dlq_url
    attrs = cli_json(env, "attrs", url)
    assert attrs["VisibilityTimeout"] == "5" and attrs["MessageRetentionPeriod"] == "3600"
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "2" and attrs["DelaySeconds"] == "0"
    policy = json.loads(attrs["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == arn and int(policy["maxReceiveCount"]) == 3
    assert attrs["ApproximateNumberOfMessages"] == "0"

    assert cli_json(env, "create", name, *flags)["queue_url"] == url, "same attributes: same queue"
    proc = cli(env, "create", name, "--visibility", "9")
    assert proc.returncode == 1 and "QueueAlreadyExists" in proc.stderr
    assert "[ERR_EXISTS]" in proc.stderr
    assert cli(env, "url", name).stdout == url + "\n"
    proc = cli(env, "url", "no-such-" + secrets.token_hex(3))
    assert proc.returncode == 1 and "[ERR_NOT_FOUND]" in proc.stderr
    table = cli(env, "attrs", name).stdout
    assert any(line.split() == ["VisibilityTimeout", "5"] for line in table.splitlines())


def test_send_receive_delete_visibility(env, queue):
    name, url = queue
    one = cli(env, "send", name, "first message")
    assert one.returncode == 0 and len(one.stdout.strip()) == 36
    many = cli_json(env, "send", url, *[f"m{i}" for i in range(12)])
    assert len(many["messages"]) == 12 and many["failed"] == 0
    assert all(m["ok"] and m["message_id"] for m in many["messages"])
    assert [m["index"] for m in many["messages"]] == list(range(12))

    got = cli_json(env, "recv", name, "--max", "10", "--visibility", "30")["messages"]
    assert len(got) == 10
    for m in got:
        assert m["receive_count"] == 1 and m["sent_ms"] > 1_500_000_000_000
        assert m["attributes"]["ApproximateReceiveCount"] == "1"
        assert "SentTimestamp" in m["attributes"] and len(m["md5_of_body"]) == 32
    attrs = cli_json(env, "attrs", name)
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "10"
    assert attrs["ApproximateNumberOfMessages"] == "3"

    deleted = cli_json(env, "del", name, *[m["receipt_handle"] for m in got])
    assert deleted["failed"] == 0 and len(deleted["deleted"]) == 10

    rest = cli_json(env, "recv", name, "--max", "10")["messages"]
    assert len(rest) == 3
    proc = cli(env, "visibility", name, rest[0]["receipt_handle"], "0")
    assert proc.returncode == 0, proc.stderr
    again = cli_json(env, "recv", name, "--max", "10", "--wait", "1")["messages"]
    assert [m["message_id"] for m in again] == [rest[0]["message_id"]]
    assert again[0]["receive_count"] == 2
    assert cli(env, "del", url, again[0]["receipt_handle"]).returncode == 0
    for m in rest[1:]:
        assert cli(env, "del", name, m["receipt_handle"]).returncode == 0
    attrs = cli_json(env, "attrs", name)
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_recv_table_and_stdin_body(env, queue):
    name, _ = queue
    proc = cli(env, "send", name, "-", input="line one\nline two")
    assert proc.returncode == 0, proc.stderr
    table = cli(env, "recv", name).stdout.splitlines()
    assert table[0].split()[:2] == ["MESSAGE", "ID"] and "line one" in table[1]
    assert any(line.startswith("  receipt: ") for line in table)


def test_long_poll(env, queue):
    name, url = queue
    t0 = time.monotonic()
    empty = cli_json(env, "recv", name, "--wait", "2")
    assert empty == {"messages": []} and time.monotonic() - t0 >= 1.5
    assert cli(env, "recv", name, "--wait", "0").stdout == "", "nothing: no table at all"

    poll = subprocess.Popen([os.environ["CLOUDREC_CLI"], "sqs", "recv", url, "--wait", "20",
                             "--json"], env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    assert cli(env, "send", name, "wake").returncode == 0
    out, _ = poll.communicate(timeout=60)
    # The message sent while the poll waited is its answer (no clock bound:
    # a loaded machine may be slow, never wrong).
    assert poll.returncode == 0
    assert [m["body"] for m in json.loads(out)["messages"]] == ["wake"]


def test_purge(env, queue):
    name, url = queue
    cli(env, "send", name, "a", "b", "c")
    assert cli_json(env, "attrs", name)["ApproximateNumberOfMessages"] == "3"
    proc = cli(env, "purge", name)
    assert proc.returncode == 0 and proc.stdout == f"purged {url}\n"
    assert cli_json(env, "attrs", name)["ApproximateNumberOfMessages"] == "0"


def test_errors(env, queue):
    name, url = queue
    proc = cli(env, "del", name, "not-a-receipt")
    assert proc.returncode == 1 and "ReceiptHandleIsInvalid" in proc.stderr
    assert "[ERR_INVALID]" in proc.stderr and len(proc.stderr.splitlines()) == 1
    batch = cli(env, "del", name, "bad-1", "bad-2", "--json")
    assert batch.returncode == 1
    doc = json.loads(batch.stdout)
    assert doc["failed"] == 2 and all(d["code"] == "ReceiptHandleIsInvalid"
                                      for d in doc["deleted"])
    proc = cli(env, "visibility", name, "not-a-receipt", "10")
    assert proc.returncode == 1 and ("[ERR_INVALID]" in proc.stderr or
                                     "[ERR_STATE]" in proc.stderr)
    gone = url.rsplit("/", 1)[0] + "/missing-" + secrets.token_hex(3)
    for args in (("send", gone, "x"), ("recv", gone), ("purge", gone), ("attrs", gone),
                 ("send", "missing-" + secrets.token_hex(3), "x")):
        proc = cli(env, *args)
        assert proc.returncode == 1 and "[ERR_NOT_FOUND]" in proc.stderr, (args, proc.stderr)


@pytest.mark.parametrize("args", [
    (), ("bogus",), ("create",), ("url",), ("send", "q"), ("recv",), ("recv", "q", "--max", "11"),
    ("recv", "q", "--wait", "21"), ("del", "q"), ("visibility", "q", "r"),
    ("visibility", "q", "r", "-1"), ("create", "q", "--attr", "novalue"),
    ("create", "q", "--retention", "5"), ("purge",), ("attrs", "a", "b"),
])
def test_usage_errors_exit_2(env, args):
    proc = cli(env, *args)
    assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
    assert proc.stderr and not proc.stdout


def test_help(env):
    proc = cli(env, "recv", "--help")
    assert proc.returncode == 0 and "cloudrec sqs recv QUEUE" in proc.stdout
