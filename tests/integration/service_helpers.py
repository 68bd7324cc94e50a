"""Helpers for the service tests (worker, scaler, `cloudrec up`).

A "stack" is a temporary data directory laid out like `cloudrec up` lays out
its own: input/ and output/ file stores, queue.db with the queues requests
(dead letters to requests-dead after 5 receives) and replies. Queues are
driven through tests/integration/queue_probe, a small C program over the
public API, which prints JSON.
"""
import json
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from conftest import build_path, run
from darknet_reference import stock_labels


def probe(*args) -> object:
    """Runs queue_probe and returns its JSON output."""
    res = run([build_path("tests", "integration", "queue_probe"), *map(str, args)])
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


class Stack:
    """A data directory with stores and queues, as `cloudrec up` makes it."""

    def __init__(self, root: Path):
        self.root = root
        self.input = root / "input"
        self.output = root / "output"
        self.input.mkdir(parents=True, exist_ok=True)
        self.output.mkdir(parents=True, exist_ok=True)
        db = root / "queue.db"
        self.requests = f"sqlite://{db}?name=requests"
        self.dead = f"sqlite://{db}?name=requests-dead"
        self.replies = f"sqlite://{db}?name=replies"
        self.input_url = f"file://{self.input}"
        self.output_url = f"file://{self.output}"

    def create_queues(self, visibility_s: int = 30, max_receives: int = 5):
        probe("create", self.dead)
        probe("create", self.requests, visibility_s, max_receives, self.dead)
        probe("create", self.replies)

    def send_request(self, name: str, key: str = None, reply: str = None) -> str:
        """Sends a request message for input object `key` (default name)."""
        rid = str(uuid.uuid4())
        body = {"v": 1, "id": rid, "name": name, "input": self.input_url,
                "key": key or name, "reply": reply or self.replies,
                "enqueued_ms": int(time.time() * 1000)}
        probe("send", self.requests, json.dumps(body))
        return rid

    def counts(self, url: str = None) -> dict:
        return probe("counts", url or self.requests)

    def replies_received(self, want: int, timeout_s: float = 60) -> dict:
        """Receives (and deletes) replies until `want` arrived; id -> decoded body."""
        got = {}
        deadline = time.monotonic() + timeout_s
        while len(got) < want and time.monotonic() < deadline:
            for m in probe("receive", self.replies, 10, 500, "delete"):
                body = json.loads(m["body"])
                assert body["id"] not in got, f"duplicate reply {body}"
                got[body["id"]] = body
        return got


def wait_for(predicate, timeout_s: float, step_s: float = 0.1):
    """Polls predicate until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    return predicate()


def expected_labels(paths) -> dict:
    """basename -> the top-1 label stock Darknet gives (darknet_reference.py),
    never what cloudrec itself says."""
    return stock_labels(paths)


def copies_to_upload(folder: Path, sample_images, labels: dict, count: int) -> dict:
    """count image files in folder, the samples over and over under new
    names (u000_dog.jpg, ...); path -> the label expected for it."""
    files = {}
    for i in range(count):
        sample = sample_images[i % len(sample_images)]
        path = folder / f"u{i:03d}_{sample.stem}.jpg"
        shutil.copy(sample, path)
        files[path] = labels[sample.name]
    return files


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout_s: float = 60) -> int:
    """Signals a process and waits for it; kills it if it will not end."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def pid_alive(pid: int) -> bool:
    """True when pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


SCALE_LINE = re.compile(r"msg=scale backlog=(\d+) visible=(\d+) in_flight=(\d+) pending=(\d+) "
                        r"running=(\d+) idle=(\d+) stopping=(\d+) desired=(\d+) action=(\S+)")


def scale_lines(text: str) -> list:
    """Every decision line as a dict of its numbers (and the action)."""
    keys = ("backlog", "visible", "in_flight", "pending", "running", "idle", "stopping",
            "desired")
    out = []
    for m in SCALE_LINE.finditer(text):
        d = dict(zip(keys, map(int, m.groups()[:8])))
        d["action"] = m.group(9)
        out.append(d)
    return out


def children(pid: int) -> list:
    """Live child pids of pid."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split() if pid_alive(int(p))]
    except FileNotFoundError:
        return []


def assert_clean_log(text: str, killed=()):
    """No sanitizer report, and every worker that exited did so with status 0
    (but those in `killed`, pids the test itself SIGKILLed)."""
    assert "Sanitizer" not in text and "runtime error:" not in text, text[-5000:]
    for m in re.finditer(r'msg="worker exited" id=\S+ pid=(\d+) (\S+)', text):
        assert m.group(2) == "exit=0" or int(m.group(1)) in killed, m.group(0)
