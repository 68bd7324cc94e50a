"""cloudrec-worker alone, against SQLite queues and file stores in a temporary directory."""
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DARKNET_DATA
from service_helpers import (Stack, assert_clean_log, expected_labels, probe, stop,
                             wait_for)


@pytest.fixture
def stack(tmp_path) -> Stack:
    s = Stack(tmp_path / "data")
    s.create_queues()
    return s


@pytest.fixture(scope="session")
def labels(sample_images) -> dict:
    return expected_labels(sample_images)


def start_worker(worker_bin, stack, *extra, log_name="worker.log"):
    log = open(stack.root / log_name, "w")
    proc = subprocess.Popen(
        [worker_bin, "--requests", stack.requests, "--output", stack.output_url, *extra],
        stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc


def worker_log(stack, log_name="worker.log") -> str:
    text = (stack.root / log_name).read_text()
    assert_clean_log(text)
    return text


def put_samples(stack, sample_images) -> dict:
    """Copies the samples into the input store as test_<i>.jpg; name -> sample."""
    names = {}
    for i, image in enumerate(sample_images):
        name = f"test_{i}.jpg"
        shutil.copy(image, stack.input / name)
        names[name] = image
    return names


def test_answers_stores_and_deletes(worker_bin, stack, sample_images, labels):
    names = put_samples(stack, sample_images)
    ids = {stack.send_request(name): name for name in names}
    proc = start_worker(worker_bin, stack, "--idle-exit-s", "2", "--id", "w-test")
    replies = stack.replies_received(len(ids), timeout_s=120)
    assert proc.wait(timeout=60) == 0, worker_log(stack)
    assert set(replies) == set(ids)
    for rid, name in ids.items():
        want = labels[names[name].name]
        reply = replies[rid]
        assert reply["label"] == want and reply["name"] == name, reply
        assert reply["worker"] == "w-test" and len(reply["top"]) == 5
        assert reply["top"][0]["label"] == want and "error" not in reply
        assert (stack.output / Path(name).stem).read_text() == want
        stored = json.loads((stack.output / f"{rid}.json").read_text())
        assert stored["id"] == rid and stored["label"] == want and stored["name"] == name
    assert stack.counts() == {"visible": 0, "in_flight": 0}
    assert stack.counts(stack.dead) == {"visible": 0, "in_flight": 0}


def test_pair_output_format(worker_bin, stack, labels):
    shutil.copy(DARKNET_DATA / "dog.jpg", stack.input / "test_0.JPEG")
    stack.send_request("test_0.JPEG")
    proc = start_worker(worker_bin, stack, "--idle-exit-s", "1", "--output-format", "pair")
    assert len(stack.replies_received(1)) == 1
    assert proc.wait(timeout=60) == 0
    assert (stack.output / "test_0").read_text() == f"(test_0, {labels['dog.jpg']})"


def test_undecodable_and_missing_images_get_error_answers(worker_bin, stack):
    (stack.input / "bad.jpg").write_bytes(b"this is not an image\n")
    (stack.input / "cut.jpg").write_bytes((DARKNET_DATA / "dog.jpg").read_bytes()[:2000])
    bad = stack.send_request("bad.jpg")
    cut = stack.send_request("cut.jpg")
    missing = stack.send_request("gone.jpg")
    proc = start_worker(worker_bin, stack, "--idle-exit-s", "1")
    replies = stack.replies_received(3)
    assert proc.wait(timeout=60) == 0
    assert "not a JPEG or PNG" in replies[bad]["error"]
    assert replies[cut]["error"] and "label" not in replies[cut]
    assert replies[missing]["error"]
    # Answered with an error and deleted: nothing comes back, nothing dead-lettered.
    assert stack.counts() == {"visible": 0, "in_flight": 0}
    assert stack.counts(stack.dead) == {"visible": 0, "in_flight": 0}
    # Only the failures are stored, each under its id; no label anywhere.
    assert sorted(p.name for p in stack.output.iterdir()) == sorted(
        f"{rid}.json" for rid in (bad, cut, missing))
    assert "not a JPEG or PNG" in json.loads((stack.output / f"{bad}.json").read_text())["error"]


def test_malformed_request_is_deleted_without_answer(worker_bin, stack):
    probe("send", stack.requests, "this is not JSON")
    proc = start_worker(worker_bin, stack, "--idle-exit-s", "1")
    assert proc.wait(timeout=60) == 0
    assert stack.counts() == {"visible": 0, "in_flight": 0}
    assert probe("receive", stack.replies, 10, 100) == []
    assert "malformed request deleted" in worker_log(stack)


def test_transient_failure_leaves_the_request_until_dead_letter(worker_bin, stack, tmp_path):
    """A reply queue that cannot be reached is transient: the request is not
    deleted, comes back after its visibility timeout, and after 5 receives
    the queue moves it to requests-dead."""
    shutil.copy(DARKNET_DATA / "dog.jpg", stack.input / "dog.jpg")
    stack.send_request("dog.jpg", reply=f"sqlite://{tmp_path}/absent/queue.db?name=replies")
    proc = start_worker(worker_bin, stack, "--visibility-s", "1")
    try:
        dead = wait_for(lambda: stack.counts(stack.dead)["visible"] == 1, timeout_s=60)
    finally:
        assert stop(proc) == 0
    assert dead, worker_log(stack)
    assert stack.counts() == {"visible": 0, "in_flight": 0}
    assert "left for redelivery" in worker_log(stack)


def read_state(path: Path) -> str:
    try:
        return path.read_text().split()[0]
    except (FileNotFoundError, IndexError):
        return ""


def test_sigterm_mid_batch_finishes_what_it_holds(worker_bin, stack, sample_images):
    names = put_samples(stack, sample_images)
    total = 5 * len(names)
    for name in names:
        for _ in range(5):
            stack.send_request(name)
    state = stack.root / "w.state"
    proc = start_worker(worker_bin, stack, "--batch", "10", "--state-file", str(state))
    # SIGTERM once the first image of the first batch is answered: mid-batch.
    assert wait_for(lambda: "msg=answered" in worker_log(stack), timeout_s=60, step_s=0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0, worker_log(stack)
    answered = worker_log(stack).count("msg=answered")
    # Every batch it took was finished whole, and it took no more after the signal.
    assert answered % 10 == 0 and 10 <= answered < total, answered
    assert read_state(state) == "stopping"
    assert stack.counts() == {"visible": total - answered, "in_flight": 0}
    assert len(stack.replies_received(answered)) == answered


def test_sigkill_mid_batch_loses_no_answer(worker_bin, stack, sample_images, labels):
    """A worker holding a batch of 10 is killed after its first answer: the
    rest of its batch comes back after the visibility timeout and a second
    worker answers every request, each with its own label."""
    names = put_samples(stack, sample_images)
    ids = {}
    for name in names:
        for _ in range(8):
            ids[stack.send_request(name)] = name
    first = start_worker(worker_bin, stack, "--batch", "10", "--visibility-s", "2")
    assert wait_for(lambda: "msg=answered" in worker_log(stack), timeout_s=60, step_s=0.01)
    first.kill()
    first.wait(30)
    assert stack.counts()["in_flight"] > 0  # it died holding part of its batch
    second = start_worker(worker_bin, stack, "--batch", "10", log_name="second.log")
    replies = {}  # at-least-once: a request answered just before the kill may come twice
    try:
        deadline = time.monotonic() + 180
        while set(replies) != set(ids) and time.monotonic() < deadline:
            for m in probe("receive", stack.replies, 10, 500, "delete"):
                body = json.loads(m["body"])
                assert body["label"] == labels[names[ids[body["id"]]].name], body
                assert 1 <= body["batch"] <= 10, body
                replies[body["id"]] = body
        assert wait_for(lambda: stack.counts() == {"visible": 0, "in_flight": 0}, 60)
    finally:
        assert stop(second) == 0
    assert set(replies) == set(ids)


def test_idle_exit(worker_bin, stack):
    state = stack.root / "w.state"
    start = time.monotonic()
    proc = start_worker(worker_bin, stack, "--idle-exit-s", "1", "--state-file", str(state))
    assert proc.wait(timeout=60) == 0
    assert time.monotonic() - start >= 1
    assert "idle exit" in worker_log(stack)
    assert read_state(state) == "stopping"


def test_usage_errors(worker_bin, stack, tmp_path):
    for args in ([], ["--requests", stack.requests], ["--batch", "11"],
                 ["--requests", stack.requests, "--output", stack.output_url, "--top", "0"],
                 ["--requests", stack.requests, "--output", stack.output_url,
                  "--output-format", "xml"]):
        res = subprocess.run([worker_bin, *args], capture_output=True, text=True, timeout=60)
        assert res.returncode == 2 and res.stderr, args
    res = subprocess.run([worker_bin, "--requests", f"sqlite://{tmp_path}/none.db?name=x",
                          "--output", stack.output_url], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2 and "requests queue" in res.stderr
    res = subprocess.run([worker_bin, "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "usage:" in res.stdout
