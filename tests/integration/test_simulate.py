"""`cloudrec simulate` against the real thing, and its command line.

The validation runs a real burst on this machine (`cloudrec up` on a free
127.0.0.1 port, `cloudrec-load` with 100 uploads at once), measures from the
service's own log how long a worker takes to start and to serve one image,
runs the simulator with those two measurements and the same policy flags,
and compares the simulated average latency with the measured one. Both
figures come from the same run, so the test holds on a slow or a fast
machine, and when the engine gets faster.
"""
import json
import re
import signal
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import run
from service_helpers import build_path, stop, wait_for
from test_up import free_port

UPLOADS = 100
MAX_WORKERS = 4
POLICY = {"--per-instance": "10", "--scale-in-window-ms": "2000", "--interval-ms": "200"}


def log_time(stamp: str) -> float:
    """Seconds since the epoch of a log line's timestamp (2026-12-04T07:39:33.215Z)."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def worker_figures(log: str) -> tuple:
    """(start_s, service_s) measured in the service's log.

    start: from the scaler's launch of a worker to the worker's "ready"
    line (model loaded), averaged over the workers. service: each worker
    answers one image after the other from the moment it is ready until the
    queue is empty, so (last answer - ready) / answers is its time per image,
    receive and delete included; the total over all workers is divided by
    all answers.
    """
    launched = {m[1]: log_time(m[0]) for m in
                re.findall(r'(?m)^(\S+) \w+ msg="worker launched" id=(\S+)', log)}
    ready = {m[1]: log_time(m[0]) for m in
             re.findall(r'(?m)^(\S+) \w+ msg="worker ready" worker=(\S+)', log)}
    answers = {}
    for stamp, worker in re.findall(r'(?m)^(\S+) \w+ msg=answered worker=(\S+)', log):
        answers.setdefault(worker, []).append(log_time(stamp))
    assert answers and set(answers) <= set(ready) <= set(launched), log[-3000:]
    start_s = sum(ready[w] - launched[w] for w in ready) / len(ready)
    busy_s = sum(max(times) - ready[w] for w, times in answers.items())
    return start_s, busy_s / sum(len(t) for t in answers.values())


@pytest.fixture(scope="module")
def real_burst(cli, sample_images, tmp_path_factory):
    """Runs the burst; returns (measured average latency, start_s, service_s)."""
    root = tmp_path_factory.mktemp("simreal")
    port = free_port()
    flags = [x for kv in POLICY.items() for x in kv]
    with open(root / "up.out", "w") as out, open(root / "up.err", "w") as err:
        proc = subprocess.Popen([cli, "up", "--port", str(port), "--data", str(root / "data"),
                                 "--max-workers", str(MAX_WORKERS), *flags],
                                stdout=out, stderr=err)
    try:
        assert wait_for(lambda: "cloudrec is up" in (root / "up.out").read_text() or
                        proc.poll() is not None, timeout_s=120)
        assert proc.poll() is None, (root / "up.err").read_text()
        res = run([build_path("tools", "cloudrec-load"), "--url", f"http://127.0.0.1:{port}/",
                   "--num", str(UPLOADS), "--concurrency", str(UPLOADS), "--json",
                   *map(str, sample_images)])
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr
        lines = [json.loads(l) for l in res.stdout.splitlines()]
        latencies = [l["latency_ms"] / 1000 for l in lines if "index" in l]
        assert len(latencies) == UPLOADS
    finally:
        stop(proc, signal.SIGINT, timeout_s=120)
    start_s, service_s = worker_figures((root / "up.err").read_text())
    return sum(latencies) / len(latencies), start_s, service_s


def simulate(cli, *args) -> subprocess.CompletedProcess:
    return run([cli, "simulate", *map(str, args)])


def test_simulated_burst_matches_a_real_one(cli, real_burst):
    measured_avg_s, start_s, service_s = real_burst
    flags = [x for kv in POLICY.items() for x in kv]
    res = simulate(cli, "--arrivals", f"burst:{UPLOADS}", "--local", "--boot", f"{start_s:.4f}",
                   "--service", f"{service_s:.4f}", "--max-instances", MAX_WORKERS, *flags,
                   "--json")
    assert res.returncode == 0, res.stderr
    sim = json.loads(res.stdout)
    assert sim["completed"] == UPLOADS and sim["peak_instances"] == MAX_WORKERS
    print(f"\nreal burst: avg latency {measured_avg_s:.3f} s; worker start {start_s:.3f} s, "
          f"{service_s:.3f} s per image; simulated avg {sim['latency_avg_s']:.3f} s")
    assert abs(sim["latency_avg_s"] - measured_avg_s) <= 0.2 * measured_avg_s, \
        (sim, measured_avg_s, start_s, service_s)
