"""cloudrec-scaler driving a local fleet of cloudrec-worker processes."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import DARKNET_DATA
from service_helpers import (Stack, assert_clean_log, children, pid_alive, scale_lines, stop,
                             wait_for)


@pytest.fixture
def stack(tmp_path) -> Stack:
    s = Stack(tmp_path / "data")
    s.create_queues()
    shutil.copy(DARKNET_DATA / "dog.jpg", s.input / "dog.jpg")
    return s


def start_scaler(scaler_bin, worker_bin, stack, *extra):
    log = open(stack.root / "scaler.log", "w")
    proc = subprocess.Popen(
        [scaler_bin, "--requests", stack.requests, "--fleet", f"local://{stack.root}/workers",
         "--worker", worker_bin, "--output", stack.output_url, "--interval-ms", "100", *extra],
        stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc


def test_cap_is_respected_and_fleet_returns_to_zero(scaler_bin, worker_bin, stack):
    ids = {stack.send_request(f"img_{i}.jpg", key="dog.jpg") for i in range(50)}
    proc = start_scaler(scaler_bin, worker_bin, stack, "--max", "3",
                        "--scale-in-window-ms", "1000")
    most = 0
    replies = {}
    deadline = time.monotonic() + 240
    try:
        while len(replies) < len(ids) and time.monotonic() < deadline:
            most = max(most, len(children(proc.pid)))
            replies.update(stack.replies_received(1, timeout_s=0.2))
        log = (stack.root / "scaler.log").read_text
        assert wait_for(lambda: scale_lines(log())[-1]["running"] == 0 and
                        len(children(proc.pid)) == 0, timeout_s=60), log()[-3000:]
    finally:
        assert stop(proc) == 0
    assert set(replies) == ids
    lines = scale_lines(log())
    assert lines[0]["action"] == "launch:3" and lines[0]["desired"] == 3
    assert all(l["pending"] + l["running"] <= 3 for l in lines)
    assert 1 <= most <= 3
    assert any(l["action"].startswith("stop:") for l in lines)
    assert stack.counts() == {"visible": 0, "in_flight": 0}
    assert_clean_log(log())


def test_sigterm_stops_busy_workers_without_losing_messages(scaler_bin, worker_bin, stack):
    total = 200
    for i in range(total):
        stack.send_request(f"img_{i}.jpg", key="dog.jpg")
    proc = start_scaler(scaler_bin, worker_bin, stack, "--max", "2")
    log = (stack.root / "scaler.log").read_text
    assert wait_for(lambda: log().count("msg=answered") >= 5, timeout_s=120), log()
    workers = children(proc.pid)
    assert stop(proc, signal.SIGTERM, timeout_s=120) == 0
    assert not [p for p in workers if pid_alive(p)]
    answered = len(stack.replies_received(total, timeout_s=2))
    # Every worker finished the image it held: nothing is left in flight, and
    # what was not answered is still waiting in the queue.
    assert stack.counts() == {"visible": total - answered, "in_flight": 0}
    assert 5 <= answered < total
    assert "worker exited" in log() and "asked_to_stop=no" not in log()
    assert_clean_log(log())


def test_unsupported_and_bad_fleets(scaler_bin, worker_bin, stack):
    # An ec2: fleet needs at least an AMI (test_aws_mode.py drives it on moto).
    res = subprocess.run([scaler_bin, "--requests", stack.requests, "--fleet", "ec2:"],
                         capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items()
                              if not k.startswith(("AWS_", "CLOUDREC_EC2_"))})
    assert res.returncode == 2 and "ec2" in res.stderr and "no AMI" in res.stderr
    res = subprocess.run([scaler_bin, "--requests", stack.requests, "--fleet", "moon:",
                          "--worker", worker_bin], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "unknown fleet" in res.stderr
    for args in (["--fleet", "local:"], ["--requests", stack.requests, "--max", "0"],
                 ["--requests", stack.requests, "--min", "5", "--max", "2"]):
        res = subprocess.run([scaler_bin, *args], capture_output=True, text=True, timeout=60)
        assert res.returncode == 2 and res.stderr, args
