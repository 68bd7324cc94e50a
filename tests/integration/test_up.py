"""End to end: `cloudrec up` on a free port, 100 concurrent uploads, scaling,
a worker killed mid-burst, and Ctrl-C."""
import csv
import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import free_port
from service_helpers import (assert_clean_log, build_path, children, copies_to_upload,
                             expected_labels, pid_alive, scale_lines, stop, wait_for)

MAX_WORKERS = 6
UPLOADS = 100
# Small windows keep the test short: 100 images need ceil(100 / 10) = 10
# workers, capped at MAX_WORKERS; the fleet returns to 0 two seconds after
# the backlog is gone. A killed worker's image comes back after 5 s.
UP_FLAGS = ["--max-workers", str(MAX_WORKERS), "--per-instance", "10",
            "--scale-in-window-ms", "2000", "--interval-ms", "200", "--visibility-s", "5",
            "--stop-timeout-ms", "20000"]


class Service:
    """A running `cloudrec up` with its output in files."""

    def __init__(self, cli: str, root: Path, *extra: str):
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.out = root / "up.out"
        self.err = root / "up.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [cli, "up", "--port", str(self.port), "--data", str(self.data), *UP_FLAGS,
                 *extra],
                stdout=out, stderr=err)
        up = wait_for(lambda: "cloudrec is up" in self.out.read_text() or
                      self.proc.poll() is not None, timeout_s=120)
        assert up and self.proc.poll() is None, self.err.read_text()

    def log(self) -> str:
        return self.err.read_text()

    def descendants(self) -> list:
        """Every live process below `cloudrec up`."""
        found, todo = [], [self.proc.pid]
        while todo:
            for child in children(todo.pop()):
                found.append(child)
                todo.append(child)
        return found

    def worker_states(self) -> dict:
        """pid -> state, from the workers' state files."""
        states = {}
        for f in (self.data / "workers").glob("*.state"):
            try:
                state, _, pid = f.read_text().split()[:3]
                states[int(pid)] = state
            except (FileNotFoundError, ValueError):
                pass
        return states


@pytest.fixture(scope="module")
def labels(sample_images) -> dict:
    return expected_labels(sample_images)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory, sample_images, labels):
    """100 image files (the 7 samples and copies) with their expected labels."""
    return copies_to_upload(tmp_path_factory.mktemp("uploads"), sample_images, labels, UPLOADS)


@pytest.fixture(scope="module")
def service(cli, tmp_path_factory):
    svc = Service(cli, tmp_path_factory.mktemp("up"))
    yield svc
    # Ctrl-C at the end: `cloudrec up` must stop cleanly (or have done so).
    assert stop(svc.proc, signal.SIGINT, timeout_s=120) == 0, svc.log()[-3000:]


def post(port: int, path: Path, name: str = None) -> tuple:
    """One multipart upload (field inputFile) of path, sent under `name`
    (default its own), no client timeout: (status, body)."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"inputFile\"; "
            f"filename=\"{name or path.name}\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port)
    try:
        conn.request("POST", "/", body,
                     {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode().strip()
    except OSError as e:
        return 0, str(e)
    finally:
        conn.close()


def post_all(port: int, files) -> dict:
    """Uploads every file at once (100 threads); path -> (status, body)."""
    files = list(files)
    with ThreadPoolExecutor(max_workers=len(files)) as pool:
        return dict(zip(files, pool.map(lambda p: post(port, p), files)))


def check_answers(answers: dict, uploads: dict):
    wrong = {p.name: a for p, a in answers.items() if a != (200, f"{p.stem}:{uploads[p]}")}
    assert not wrong, f"{len(wrong)} wrong answers, e.g. {list(wrong.items())[:5]}"


def load_tool() -> str:
    path = os.environ.get("CLOUDREC_LOAD") or build_path("tools", "cloudrec-load")
    return path if os.access(path, os.X_OK) else None


def test_100_concurrent_uploads_scale_out_and_back(service, uploads):
    start = time.monotonic()
    tool = load_tool()
    if tool:
        expect = service.root / "expect.csv"
        with open(expect, "w", newline="") as f:
            csv.writer(f).writerows((p.name, label) for p, label in uploads.items())
        folder = next(iter(uploads)).parent
        # The current course client's field, then the ImageNet-era client's.
        for field in ("inputFile", "myfile"):
            res = subprocess.run([tool, "--url", service.url, "--images", str(folder),
                                  "--num", "100", "--concurrency", "100", "--field", field,
                                  "--expect", str(expect), "--quiet"],
                                 capture_output=True, text=True, timeout=600)
            assert res.returncode == 0, field + res.stdout + res.stderr
            assert re.search(r"(?m)^correct\s+100$", res.stdout), res.stdout + res.stderr
    else:
        check_answers(post_all(service.port, uploads), uploads)
    wall = time.monotonic() - start
    lines = scale_lines(service.log())
    peak = max(l["pending"] + l["running"] for l in lines)
    assert lines[0]["running"] == 0 and lines[0]["pending"] == 0
    assert 2 <= peak <= MAX_WORKERS, peak
    # Back to zero after the stabilisation window.
    assert wait_for(lambda: (scale_lines(service.log())[-1]["running"] == 0 and
                             scale_lines(service.log())[-1]["pending"] == 0 and
                             not service.worker_states()), timeout_s=60), service.log()[-3000:]
    assert_clean_log(service.log())
    # The workers' batch sizes and start times reach /metrics as histograms.
    text = urllib.request.urlopen(service.url + "metrics", timeout=30).read().decode()
    metric = lambda name: float(re.search(rf"^{re.escape(name)} (\S+)$", text, re.M).group(1))
    assert metric("cloudrec_worker_batch_size_count") >= 200  # both bursts, every reply
    assert metric("cloudrec_worker_batch_size_sum") >= metric("cloudrec_worker_batch_size_count")
    assert metric("cloudrec_worker_start_seconds_count") >= peak
    assert metric('cloudrec_worker_start_seconds_bucket{le="+Inf"}') == \
        metric("cloudrec_worker_start_seconds_count")
    print(f"\n100 uploads in {wall:.1f} s, peak {peak} workers")


def test_same_name_at_once_each_gets_its_own_label(service, sample_images, labels):
    """Two users' phones both name their photo IMG_0001.jpg: 10 pairs of
    different photos under that one name, all sent at once."""
    by_label = {}
    for img in sample_images:
        by_label.setdefault(labels[img.name], img)
    first, second = list(by_label.values())[:2]
    jobs = [first, second] * 10
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        answers = list(pool.map(lambda p: post(service.port, p, "IMG_0001.jpg"), jobs))
    wrong = [(p.name, a) for p, a in zip(jobs, answers)
             if a != (200, f"IMG_0001:{labels[p.name]}")]
    assert not wrong, wrong


def test_everyday_names_are_answered_with_their_stem(service, sample_images, labels):
    img = sample_images[0]
    for name in ("Screenshot 2026-12-03 at 10.00.00.jpg", "hund-\u00e9t\u00e9.jpg"):
        stem = name.rsplit(".", 1)[0]
        assert post(service.port, img, name) == (200, f"{stem}:{labels[img.name]}")


def test_worker_killed_mid_burst_loses_nothing(service, uploads):
    answers = {}
    burst = threading.Thread(target=lambda: answers.update(post_all(service.port, uploads)))
    burst.start()
    busy = wait_for(lambda: [p for p, s in service.worker_states().items() if s == "busy"],
                    timeout_s=120, step_s=0.02)
    assert busy, service.log()[-3000:]
    os.kill(busy[0], signal.SIGKILL)
    burst.join(timeout=600)
    assert not burst.is_alive()
    assert len(answers) == UPLOADS
    check_answers(answers, uploads)
    assert re.search(rf"worker exited\" id=w-\d+ pid={busy[0]} signal=9", service.log())
    assert_clean_log(service.log(), killed=busy[:1])


def child_named(svc, program: str) -> int:
    """The pid of `cloudrec up`'s direct child running program."""
    for pid in children(svc.proc.pid):
        try:
            argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except FileNotFoundError:
            continue
        if argv0.decode().endswith("/" + program):
            return pid
    return 0


def post_until_answered(port: int, path: Path, tries: int = 100) -> tuple:
    """Retries an upload every 0.1 s while the server is unreachable (a
    client retrying after a failed connection), up to `tries` times."""
    for _ in range(tries):
        status, body = post(port, path)
        if status != 0:
            return status, body
        time.sleep(0.1)
    return status, body


def test_killed_web_tier_and_scaler_are_restarted(cli, tmp_path, sample_images, labels):
    svc = Service(cli, tmp_path)
    img = sample_images[0]
    want = (200, f"{img.stem}:{labels[img.name]}")
    assert post(svc.port, img) == want
    # The web tier dies: it comes back, and a client that retries is answered.
    web = child_named(svc, "cloudrec-web")
    os.kill(web, signal.SIGKILL)
    start = time.monotonic()
    assert post_until_answered(svc.port, img) == want
    print(f"\nanswered {time.monotonic() - start:.2f} s after the web tier was killed")
    assert re.search(rf'cloudrec-web exited on its own; restarting" pid={web} signal=9', svc.log())
    assert child_named(svc, "cloudrec-web") not in (0, web)
    # The scaler dies while uploads are in flight: every one is answered.
    files = [sample_images[i % len(sample_images)] for i in range(8)]
    answers = {}
    burst = threading.Thread(target=lambda: answers.update(
        enumerate(ThreadPoolExecutor(8).map(lambda p: post(svc.port, p), files))))
    burst.start()
    assert wait_for(lambda: svc.worker_states(), timeout_s=60), svc.log()[-3000:]
    scaler = child_named(svc, "cloudrec-scaler")
    os.kill(scaler, signal.SIGKILL)
    burst.join(timeout=300)
    assert [answers[i] for i in range(len(files))] == [
        (200, f"{p.stem}:{labels[p.name]}") for p in files]
    assert re.search(rf'cloudrec-scaler exited on its own; restarting" pid={scaler} signal=9',
                     svc.log())
    # And a new upload after both restarts.
    assert post(svc.port, img) == want
    assert stop(svc.proc, signal.SIGINT, timeout_s=120) == 0, svc.log()[-3000:]
    assert_clean_log(svc.log())


def test_first_upload_after_idle_starts_a_worker_without_the_tick(cli, tmp_path, sample_images,
                                                                   labels):
    """With a tick of a minute, the only way the upload is answered soon is
    the scaler waking on the queue: it does, and says so."""
    svc = Service(cli, tmp_path, "--interval-ms", "60000")
    try:
        assert wait_for(lambda: scale_lines(svc.log()), timeout_s=30)  # the first tick ran
        img = sample_images[0]
        assert post(svc.port, img) == (200, f"{img.stem}:{labels[img.name]}")
        assert re.search(r'msg="launched without waiting for the tick" count=1 backlog=1',
                         svc.log()), svc.log()[-3000:]
    finally:
        assert stop(svc.proc, signal.SIGINT, timeout_s=120) == 0


def test_local_workers_are_capped_per_cpu(cli, tmp_path):
    """More local workers than CPUs only time-share the cores: --max-workers
    is capped at --workers-per-cpu (1) per online CPU, and says so."""
    cpus = os.sysconf("SC_NPROCESSORS_ONLN")
    svc = Service(cli, tmp_path / "a", "--max-workers", "50")
    try:
        assert f"up to {cpus} workers" in svc.out.read_text()
        assert re.search(rf'max workers capped to the CPUs" asked=50 cpus={cpus} '
                         rf'workers_per_cpu=1 max={cpus}', svc.log())
    finally:
        assert stop(svc.proc, signal.SIGINT, timeout_s=120) == 0
    svc = Service(cli, tmp_path / "b", "--max-workers", "50", "--workers-per-cpu", "2")
    try:
        assert f"up to {2 * cpus} workers" in svc.out.read_text()
    finally:
        assert stop(svc.proc, signal.SIGINT, timeout_s=120) == 0


def test_ctrl_c_stops_everything(cli, tmp_path, uploads):
    svc = Service(cli, tmp_path)
    files = list(uploads)[:20]
    answers = {}
    burst = threading.Thread(target=lambda: answers.update(post_all(svc.port, files)))
    burst.start()
    assert wait_for(lambda: svc.worker_states(), timeout_s=120), svc.log()
    procs = svc.descendants()
    assert len(procs) >= 3  # web, scaler and at least one worker
    assert stop(svc.proc, signal.SIGINT, timeout_s=120) == 0, svc.log()[-3000:]
    burst.join(timeout=120)
    assert not [p for p in procs if pid_alive(p)], svc.log()[-3000:]
    # Requests accepted before Ctrl-C were answered during the web tier's grace.
    assert len(answers) == len(files)
    answered = [p for p, a in answers.items() if a[0] == 200]
    assert answered, answers
    assert all(answers[p] == (200, f"{p.stem}:{uploads[p]}") for p in answered)
    # The others were refused (503) or found the port closed (0), never lost.
    assert {a[0] for a in answers.values()} <= {200, 503, 0}, answers
    assert "cloudrec-web stopped\" exit=0" in svc.log()
    assert "cloudrec-scaler stopped\" exit=0" in svc.log()
    assert_clean_log(svc.log())


def test_up_usage(cli, tmp_path):
    res = subprocess.run([cli, "up", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "--max-workers" in res.stdout
    for args in (["--port", "0"], ["--max-workers", "x"], ["extra"]):
        res = subprocess.run([cli, "up", *args], capture_output=True, text=True, timeout=60)
        assert res.returncode == 2 and res.stderr, args
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = subprocess.run([cli, "up", "--port", str(port), "--data", str(tmp_path / "d")],
                             capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "already in use" in res.stderr, res.stderr
    assert res.stdout == ""
