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

from conftest import free_port, run
from service_helpers import build_path, scale_lines, stop, wait_for

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
                                 "--max-workers", str(MAX_WORKERS), "--workers-per-cpu",
                                 str(MAX_WORKERS), *flags],
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
    log = (root / "up.err").read_text()
    start_s, service_s = worker_figures(log)
    launched = len(re.findall(r'msg="worker launched"', log))
    return sum(latencies) / len(latencies), start_s, service_s, launched


def simulate(cli, *args) -> subprocess.CompletedProcess:
    return run([cli, "simulate", *map(str, args)])


def test_simulated_burst_matches_a_real_one(cli, real_burst):
    measured_avg_s, start_s, service_s, launched = real_burst
    flags = [x for kv in POLICY.items() for x in kv]
    res = run([cli, "-v", "simulate", "--arrivals", f"burst:{UPLOADS}", "--local", "--boot",
               f"{start_s:.4f}", "--service", f"{service_s:.4f}", "--max-instances",
               str(MAX_WORKERS), *flags, "--json"])
    assert res.returncode == 0, res.stderr
    sim = json.loads(res.stdout)
    assert sim["completed"] == UPLOADS and sim["peak_instances"] == MAX_WORKERS
    # The same policy made the same moves: as many launches as the real
    # scaler, and the logged decisions parse like the real scaler's.
    assert sim["launched"] == launched == MAX_WORKERS
    decisions = scale_lines(res.stderr)
    assert decisions[0]["action"] == f"launch:{MAX_WORKERS}", res.stderr[:500]
    stops = [int(d["action"][5:]) for d in decisions if d["action"].startswith("stop:")]
    assert sum(stops) == MAX_WORKERS, res.stderr[-1000:]
    print(f"\nreal burst: avg latency {measured_avg_s:.3f} s; worker start {start_s:.3f} s, "
          f"{service_s:.3f} s per image; simulated avg {sim['latency_avg_s']:.3f} s")
    assert abs(sim["latency_avg_s"] - measured_avg_s) <= 0.2 * measured_avg_s, \
        (sim, measured_avg_s, start_s, service_s)


DOC = Path("docs/simulate.md")


def doc_examples() -> list:
    """(command, output) of every code block of docs/simulate.md whose first
    line is a `cloudrec simulate` command."""
    blocks = re.findall(r"(?ms)^```[a-z]*\n(.*?)^```", DOC.read_text())
    return [(b.split("\n", 1)[0], b.split("\n", 1)[1]) for b in blocks
            if b.startswith("cloudrec simulate ")]


def test_doc_examples_run_as_written(cli, tmp_path):
    examples = doc_examples()
    assert len(examples) >= 3
    for command, shown in examples:
        args = command.split()[1:]
        first = run([cli, *args], cwd=tmp_path)
        again = run([cli, *args], cwd=tmp_path)
        assert first.returncode == 0, command + first.stderr
        assert first.stdout == again.stdout, command
        assert first.stdout == shown, f"{command}: the output shown in {DOC} is stale"
    written = sorted(p.name for p in tmp_path.glob("*.svg"))
    committed = sorted(p.name for p in (DOC.parent / "simulate").glob("*.svg"))
    assert written and written == committed
    for name in written:
        assert (tmp_path / name).read_bytes() == (DOC.parent / "simulate" / name).read_bytes(), \
            f"docs/simulate/{name} is stale"


def test_first_example_json_completes_within_the_cap(cli, tmp_path):
    command, _ = doc_examples()[0]
    args = command.split()[1:]
    cap = int(args[args.index("--max-instances") + 1]) if "--max-instances" in args else 20
    burst = next(a for a in args if a.startswith("burst:"))
    sent = int(burst.split(":")[1].split("@")[0])
    res = run([cli, *args, "--json"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["completed"] == sent == doc["requests"]
    assert 0 < doc["peak_instances"] <= cap
    for key in ("latency_avg_s", "latency_p95_s", "instance_seconds", "cost_usd"):
        assert doc[key] > 0 and doc["ideal"][key] > 0, key
    svg = (tmp_path / "burst.svg").read_text()
    assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>") and "<script" not in svg


def test_help_and_docs_list_the_same_options(cli):
    res = run([cli, "simulate", "--dump-options"])  # the declared options
    assert res.returncode == 0
    declared = {line.split("\t")[0] for line in res.stdout.splitlines()}
    help_text = run([cli, "simulate", "--help"]).stdout
    assert all(re.search(rf"(?m)^  {d}\b", help_text) for d in declared)
    table = DOC.read_text().split("## Options", 1)[1].split("### Arrivals", 1)[0]
    in_doc = set(re.findall(r"(?m)^\| `(--[a-z-]+)", table))
    assert len(declared) >= 20 and declared == in_doc, (declared ^ in_doc)


def test_sweep_prints_one_row_per_value_with_shared_draws(cli, tmp_path):
    res = run([cli, "simulate", "--arrivals", "poisson:2:10m", "--service", "exp:1",
               "--sweep", "max-instances=1,2,4", "--json", "--csv", str(tmp_path / "s.csv")])
    assert res.returncode == 0, res.stderr
    rows = [json.loads(l) for l in res.stdout.splitlines()]
    assert [r["value"] for r in rows] == ["1", "2", "4"]
    assert {r["sweep"] for r in rows} == {"max-instances"}
    # The same uploads in every row (own random streams), so the ideal fleet
    # is identical but for its mean, which is over each run's own length.
    ideal = [{k: v for k, v in r["result"]["ideal"].items() if k != "mean_instances"}
             for r in rows]
    assert ideal[0] == ideal[1] == ideal[2]
    assert [r["result"]["peak_instances"] for r in rows] == [1, 2, 4]
    avg = [r["result"]["latency_avg_s"] for r in rows]
    assert avg[0] > avg[1] > avg[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s-1.csv", "s-2.csv", "s-4.csv"]


def test_trace_and_bench_inputs(cli, tmp_path, sample_images):
    trace = tmp_path / "trace.log"
    trace.write_text("# three uploads\n2026-12-04T07:39:33.000Z info msg=a\n"
                     "2026-12-04T07:39:34.500Z info msg=b\n\n2026-12-04T07:39:33.000Z x\n")
    res = run([cli, "simulate", "--arrivals", f"trace:{trace}", "--local", "--service", "2",
               "--json"])
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["requests"] == doc["completed"] == 3 and doc["ideal"]["latency_max_s"] == 2
    bench = run([build_path("bench", "classify_bench"), "--json", "--threads", "1", "--num",
                 str(len(sample_images)), "--warmup", "0"])
    assert bench.returncode == 0, bench.stderr
    (tmp_path / "bench.json").write_text(bench.stdout)
    lat = json.loads(bench.stdout)["single"]["latency_ms"]
    res = run([cli, "simulate", "--arrivals", "burst:500", "--local", "--service",
               f"bench:{tmp_path / 'bench.json'}", "--json"])
    assert res.returncode == 0, res.stderr
    ideal = json.loads(res.stdout)["ideal"]
    # Draws follow the measured percentiles: none above the measured maximum,
    # and the median of 500 draws between the quantiles 0.4 and 0.6 of the
    # documented curve (linear with the p50-p90 slope around the median);
    # the draws' median falls outside that only with odds below 1e-5.
    p50, p90 = lat["p50"] / 1000, lat["p90"] / 1000
    slope = (p90 - p50) / 0.4
    assert ideal["latency_max_s"] <= lat["max"] / 1000 + 1e-6
    assert max(0.0, p50 - 0.1 * slope) - 1e-6 <= ideal["latency_p50_s"] <= p50 + 0.1 * slope + 1e-6


@pytest.mark.parametrize("args,needle", [
    ([], "--arrivals is required"),
    (["--arrivals", "poisson:x:1"], "--arrivals poisson:x:1"),
    (["--arrivals", "burst:1", "--service", "gauss:1"], "--service"),
    (["--arrivals", "burst:1", "--max-instances", "0"], "--max-instances"),
    (["--arrivals", "burst:1", "--price", "-1"], "--price"),
    (["--arrivals", "burst:1", "--sweep", "arrivals=burst:2"], "--sweep"),
    (["--arrivals", "burst:1", "--sweep", "max-instances=2,0"], "--max-instances"),
    (["--arrivals", "burst:1", "extra"], "unexpected operand 'extra'"),
    (["--arrivals", "burst:1", "--min-instances", "30"], "--min-instances"),
    (["--arrivals", "burst:1", "--deaths-per-hour", "1e9"], "--deaths-per-hour"),
])
def test_bad_input_is_a_usage_error(cli, args, needle):
    res = run([cli, "simulate", *args])
    assert res.returncode == 2, res.stdout
    assert needle in res.stderr.splitlines()[0], res.stderr


def test_unreadable_trace_is_a_run_failure(cli, tmp_path):
    res = run([cli, "simulate", "--arrivals", f"trace:{tmp_path / 'missing'}"])
    assert res.returncode == 1 and "missing" in res.stderr and res.stdout == ""


def test_example_finds_the_smallest_cap(cli):
    res = run([build_path("examples", "simulate_cap"), "1000", "60"])
    assert res.returncode == 0, res.stderr
    cap = int(re.match(r"cap (\d+): p95 ", res.stdout).group(1))
    out = run([cli, "simulate", "--arrivals", "burst:1000", "--json", "--sweep",
               f"max-instances={cap - 1},{cap}"])
    rows = [json.loads(l)["result"] for l in out.stdout.splitlines()]
    assert rows[0]["latency_p95_s"] > 60 >= rows[1]["latency_p95_s"]
