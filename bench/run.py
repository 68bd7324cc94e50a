#!/usr/bin/env python3
"""Bare classification vs the whole service, on one machine, in one run.

    bench/run.py [--build DIR] [--max-workers 2,4,20] [--num 100] [--json]

Builds nothing: it runs the programs of an existing build directory
(default build/). In a temporary directory it makes NUM uniquely named
images (copies of Darknet's samples), takes the expected labels from
`cloudrec classify`, and then measures, one after the other:

  1. bare: build/bench/classify_bench on the same images (one thread for
     per-image latency, then one thread per CPU for throughput), with the
     native engine and with Darknet;
  1b. the peer: OpenCV DNN (opencv-python-headless<5, in a bench-only
     virtualenv under the build directory, made on first use with pip)
     reading the same tiny.cfg and weights, one thread, its forward pass
     alone timed on the same images, alternated three times with the native
     engine on one thread (decode included); skipped with a message when
     the virtualenv cannot be made (no network, no venv module);
  2. end to end, for each --max-workers value: a fresh `cloudrec up` on a
     free port, a cold burst (`cloudrec-load --num NUM --concurrency NUM`;
     the workers start and load the model during it), at once a warm burst
     (the workers are still up), then SIGINT;
  3. bare again, to show how much the machine drifted meanwhile.

It prints one table: images/s, the ratio to bare throughput, latency
percentiles, the CPU share other programs took meanwhile (a disturbed
measurement is flagged), and the workers seen in the scaler's log. Every
answer must be right and every program must exit 0, otherwise the exit
status is 1 (2 for a usage or setup error). See docs/benchmarks.md.
"""
import argparse
import csv
import datetime
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLES = Path("/usr/share/darknet/data")
UP_TIMEOUT_S = 120
STOP_TIMEOUT_S = 120
OTHERS_WARN_PCT = 10  # others' share of the CPUs above which figures are flagged
SCALE_RE = re.compile(r"msg=scale .*?\bpending=(\d+) running=(\d+)")
LAUNCH_RE = re.compile(r'msg="worker launched" id=(\S+)')
READY_RE = re.compile(r'msg="worker ready" worker=(\S+)')


class BenchError(Exception):
    """A failed step: the benchmark's figures cannot be trusted (exit 1)."""


class SetupError(BenchError):
    """Nothing was measured: a program or the sample images are missing (exit 2)."""


def parse_args() -> argparse.Namespace:
    nproc = os.cpu_count() or 1
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default="build", help="build directory (default build)")
    p.add_argument("--images", default=str(SAMPLES),
                   help=f"sample images to copy, *.jpg/*.jpeg/*.png (default {SAMPLES})")
    p.add_argument("--num", type=int, default=100, help="images per burst (default 100)")
    p.add_argument("--concurrency", type=int, default=0,
                   help="uploads in flight (default: --num, the whole burst at once)")
    p.add_argument("--max-workers", default=f"{nproc},{2 * nproc},20",
                   help=f"comma-separated --max-workers values (default {nproc},{2 * nproc},20)")
    p.add_argument("--threads", type=int, default=nproc,
                   help=f"classify_bench threads (default {nproc}, the online CPUs)")
    p.add_argument("--model", help="model directory, for every program (sets CLOUDREC_MODEL_DIR;"
                   " default: the usual lookup from the working directory)")
    p.add_argument("--up-arg", action="append", default=[],
                   help="extra argument for `cloudrec up` (repeatable)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    a = p.parse_args()
    try:
        a.max_workers = sorted({int(v) for v in a.max_workers.split(",") if v.strip()})
    except ValueError:
        p.error(f"--max-workers: not a list of numbers: {a.max_workers}")
    if not a.max_workers or min(a.max_workers) < 1 or a.num < 1 or a.threads < 1:
        p.error("--max-workers, --num and --threads must be positive")
    a.concurrency = a.concurrency or a.num
    return a


def programs(build: Path) -> dict:
    found = {"cloudrec": build / "tools" / "cloudrec",
             "load": build / "tools" / "cloudrec-load",
             "bench": build / "bench" / "classify_bench"}
    for path in found.values():
        if not os.access(path, os.X_OK):
            raise SetupError(f"{path} is missing: build first (meson compile -C {build})")
    return found


def make_images(src: Path, dest: Path, num: int) -> list:
    """num copies of the samples, named b000_dog.jpg ...; returns (copy, sample) pairs."""
    if not src.is_dir():
        raise SetupError(f"{src}: not a directory")
    samples = sorted(p for p in src.iterdir()
                     if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file())
    if not samples:
        raise SetupError(f"{src}: no .jpg, .jpeg or .png files")
    dest.mkdir()
    pairs = []
    for i in range(num):
        sample = samples[i % len(samples)]
        copy = dest / f"b{i:03d}_{sample.name}"
        shutil.copyfile(sample, copy)
        pairs.append((copy, sample))
    return pairs


def expected_labels(cloudrec: Path, pairs: list, csv_path: Path) -> dict:
    """Top-1 labels of the samples from `cloudrec classify`, written as the
    --expect CSV for every copy; returns copy name -> label."""
    samples = sorted({s for _, s in pairs})
    res = subprocess.run([str(cloudrec), "classify", "--json", "--top", "1", *map(str, samples)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        # 2 is a setup error (no model found, say): nothing was measured.
        error = SetupError if res.returncode == 2 else BenchError
        raise error(f"cloudrec classify exited {res.returncode}: {res.stderr.strip()}")
    by_sample = {}
    for line in res.stdout.splitlines():
        doc = json.loads(line)
        by_sample[doc["file"]] = doc["predictions"][0]["label"]
    labels = {c.name: by_sample[str(s)] for c, s in pairs}
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Image", "Results"])
        w.writerows(sorted(labels.items()))
    return labels


class CpuMeter:
    """CPU seconds used by other processes while a step ran: the machine's
    busy time (/proc/stat, steal included) minus what our children used
    (RUSAGE_CHILDREN: every program we ran and waited for, with the workers,
    which the scaler waits for). Noticeable values mean the figures are
    disturbed."""

    def __init__(self):
        self.busy0, self.ours0, self.t0 = self.busy_s(), self.ours_s(), time.monotonic()

    @staticmethod
    def busy_s() -> float:
        f = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (f + [0] * 8)[:8]
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def ours_s() -> float:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    def others_pct(self) -> float:
        """Others' CPU time as a percentage of all CPUs over the step."""
        wall = time.monotonic() - self.t0
        others = (self.busy_s() - self.busy0) - (self.ours_s() - self.ours0)
        return max(0.0, 100.0 * others / (wall * (os.cpu_count() or 1)))


def run_bare(bench: Path, images: Path, num: int, threads: int, labels: dict,
             engine: str = "native") -> dict:
    meter = CpuMeter()
    res = subprocess.run([str(bench), "--json", "--images", str(images), "--num", str(num),
                          "--threads", str(threads), "--engine", engine],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise BenchError(f"classify_bench exited {res.returncode}: {res.stderr.strip()}")
    doc = json.loads(res.stdout)
    doc["others_cpu_pct"] = round(meter.others_pct(), 1)
    wrong = {n: l for n, l in doc["labels"].items() if labels.get(n) != l}
    if wrong:
        raise BenchError(f"classify_bench disagrees with cloudrec classify: {wrong}")
    return doc


OPENCV_SCRIPT = r"""
import json, sys, time
import cv2, numpy as np
cfg, weights, size, *images = sys.argv[1:]
cv2.setNumThreads(1)
net = cv2.dnn.readNetFromDarknet(cfg, weights)
net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
blobs = []
for path in images:
    img = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
    blobs.append(cv2.dnn.blobFromImage(img, 1 / 255.0, (int(size), int(size)), swapRB=True))
net.setInput(blobs[0]); net.forward()  # warm-up, untimed
times = []
for blob in blobs:
    net.setInput(blob)
    t0 = time.perf_counter()
    out = net.forward()
    times.append((time.perf_counter() - t0) * 1000.0)
times.sort()
print(json.dumps({"version": cv2.__version__, "threads": cv2.getNumThreads(),
                  "p50_ms": times[len(times) // 2], "mean_ms": sum(times) / len(times),
                  "images": len(times)}))
"""


def opencv_venv(build: Path) -> Path:
    """The bench-only virtualenv with opencv-python-headless<5; made (pip,
    from PyPI) the first time. Raises BenchError with the reason if it
    cannot be made."""
    venv = build / "bench-venv"
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import cv2"],
                                          capture_output=True).returncode == 0:
        return python
    for cmd in ([sys.executable, "-m", "venv", str(venv)],
                [str(python), "-m", "pip", "install", "--quiet", "opencv-python-headless<5"]):
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise BenchError(f"{' '.join(cmd[:4])}: {(res.stderr or res.stdout).strip()[-300:]}")
    return python


PEER_ROUNDS = 3


def run_opencv(build: Path, progs: dict, images: Path, num: int, labels: dict) -> dict:
    """OpenCV DNN's forward pass alone, one thread, on the same images,
    alternated PEER_ROUNDS times with the native engine on one thread (p50
    per call, decode included), so that both see the same machine; the
    medians of the rounds are compared."""
    res = subprocess.run([str(progs["cloudrec"]), "model", "path"], capture_output=True,
                         text=True)
    files = dict(line.split(None, 1) for line in res.stdout.splitlines() if line.strip())
    try:
        python = opencv_venv(build)
    except BenchError as e:
        return {"skipped": str(e)}
    size = re.search(r"^width=(\d+)", Path(files["cfg"]).read_text(), re.M).group(1)
    paths = sorted(str(p) for p in images.iterdir())
    rounds = []
    for _ in range(PEER_ROUNDS):
        res = subprocess.run([str(python), "-c", OPENCV_SCRIPT, files["cfg"], files["weights"],
                              size, *paths], capture_output=True, text=True)
        if res.returncode != 0:
            return {"skipped": f"OpenCV failed: {res.stderr.strip()[-300:]}"}
        cv = json.loads(res.stdout)
        native = run_bare(progs["bench"], images, num, 1, labels)
        rounds.append({"opencv_p50_ms": cv["p50_ms"],
                       "native_p50_ms": native["single"]["latency_ms"]["p50"]})
    median = lambda key: sorted(r[key] for r in rounds)[len(rounds) // 2]  # noqa: E731
    return {"version": cv["version"], "threads": cv["threads"], "rounds": rounds,
            "opencv_p50_ms": median("opencv_p50_ms"), "native_p50_ms": median("native_p50_ms")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """`cloudrec up` on a free port over a fresh data directory; its standard
    error (every program's log) goes to a file read by offset."""

    def __init__(self, cloudrec: Path, root: Path, max_workers: int, extra: list):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.out = root / "up.out"
        self.err = root / "up.err"
        argv = [str(cloudrec), "up", "--port", str(self.port), "--data", str(root / "data"),
                "--max-workers", str(max_workers), *extra]
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + UP_TIMEOUT_S
        while "cloudrec is up" not in self.out.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise BenchError(f"cloudrec up did not start: {self.log_tail()}")
            time.sleep(0.05)

    def log_size(self) -> int:
        return self.err.stat().st_size

    def log_since(self, offset: int) -> str:
        with open(self.err, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def log_tail(self) -> str:
        return "\n".join(self.err.read_text(errors="replace").splitlines()[-10:])

    def stop(self) -> None:
        """SIGINT, as Ctrl-C; the service must exit 0."""
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError("cloudrec up did not stop after SIGINT")
        if rc != 0:
            raise BenchError(f"cloudrec up exited {rc} after SIGINT: {self.log_tail()}")

    def kill(self) -> None:
        # Its children get SIGTERM from PR_SET_PDEATHSIG and stop their workers.
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def log_time_s(line: str) -> float:
    """Seconds since the epoch of a log line's ISO 8601 UTC timestamp."""
    stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def scaler_figures(log: str) -> dict:
    """From a log segment: the peak of live workers (pending + running, from
    the scaler's msg=scale lines), the launches, and the median time from a
    launch to that worker's "worker ready" line (model loaded, polling)."""
    peak, launched, ready = 0, {}, {}
    for line in log.splitlines():
        if m := SCALE_RE.search(line):
            peak = max(peak, int(m.group(1)) + int(m.group(2)))
        elif m := LAUNCH_RE.search(line):
            launched[m.group(1)] = log_time_s(line)
        elif m := READY_RE.search(line):
            ready[m.group(1)] = log_time_s(line)
    starts = sorted(ready[w] - t for w, t in launched.items() if w in ready)
    return {"peak_workers": peak, "launched": len(launched),
            "worker_start_ms": round(starts[len(starts) // 2] * 1000) if starts else None}


def run_burst(load: Path, svc: Service, images: Path, csv_path: Path, a) -> dict:
    """One burst through cloudrec-load; every answer must be correct. Adds
    the first answer's latency (all uploads start together, so this is the
    time to the first answer) and the scaler's figures to the totals."""
    offset = svc.log_size()
    res = subprocess.run([str(load), "--url", svc.url, "--images", str(images), "--num",
                          str(a.num), "--concurrency", str(a.concurrency), "--expect",
                          str(csv_path), "--json"], capture_output=True, text=True)
    docs = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    totals = docs[-1]["totals"] if docs and "totals" in docs[-1] else {}
    if res.returncode != 0 or totals.get("correct") != a.num:
        raise BenchError(f"cloudrec-load exited {res.returncode}, totals {totals}: "
                         f"{res.stderr.strip()}")
    totals["latency_ms"]["min"] = min(d["latency_ms"] for d in docs[:-1])
    # The scaler logs its decision once per interval; let the last one land.
    time.sleep(1.2)
    return {**totals, **scaler_figures(svc.log_since(offset))}


def run_e2e(progs: dict, root: Path, images: Path, csv_path: Path, max_workers: int, a) -> dict:
    meter = CpuMeter()
    svc = Service(progs["cloudrec"], root, max_workers, a.up_arg)
    try:
        cold = run_burst(progs["load"], svc, images, csv_path, a)
        warm = run_burst(progs["load"], svc, images, csv_path, a)
        svc.stop()
    finally:
        svc.kill()
    return {"max_workers": max_workers, "cold": cold, "warm": warm,
            "others_cpu_pct": round(meter.others_pct(), 1)}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def row(name: str, per_s: float, base: float, lat: dict, others: float, workers: str = "") -> str:
    first = f"{lat['min']:7.0f}" if "min" in lat else f"{'':7}"
    return (f"{name:<25} {per_s:8.2f} {per_s / base:5.2f} {first} {lat['p50']:7.0f} "
            f"{lat['p90']:7.0f} {lat['p99']:7.0f} {lat['max']:7.0f} {others:6.0f}%  {workers}"
            ).rstrip()


def print_table(r: dict) -> None:
    bare, after = r["bare"], r["bare_after"]
    base = bare["parallel"]["images_per_s"]
    threads = bare["parallel"]["threads"]
    print(f"{r['date']}  {r['cpus']} CPUs  load average {r['loadavg_before']} before, "
          f"{r['loadavg_after']} after")
    print(f"{r['num']} images ({bare['files']} names, copies of {r['samples']}), "
          f"{r['concurrency']} uploads in flight, in-process model load "
          f"{bare['model_load_ms']['mean']:.0f} ms")
    print()
    print(f"{'':<25} {'':>8} {'':>5} {'latency ms':-^39} {'others':>7}  {'workers':-^17}")
    print(f"{'':<25} {'images/s':>8} {'ratio':>5} {'first':>7} {'p50':>7} {'p90':>7} "
          f"{'p99':>7} {'max':>7} {'CPU':>7}  {'peak':>4} {'new':>4} {'start ms':>8}")
    dn = r["bare_darknet"]
    print(row("bare native, 1 thread", bare["single"]["images_per_s"], base,
              bare["single"]["latency_ms"], bare["others_cpu_pct"]))
    print(row(f"bare native, {threads} threads", base, base, bare["parallel"]["latency_ms"],
              bare["others_cpu_pct"]))
    print(row("bare darknet, 1 thread", dn["single"]["images_per_s"], base,
              dn["single"]["latency_ms"], dn["others_cpu_pct"]))
    print(row(f"bare darknet, {threads} threads", dn["parallel"]["images_per_s"], base,
              dn["parallel"]["latency_ms"], dn["others_cpu_pct"]))
    for e in r["e2e"]:
        for phase in ("cold", "warm"):
            t = e[phase]
            start = t["worker_start_ms"] if t["worker_start_ms"] is not None else "-"
            print(row(f"up --max-workers {e['max_workers']}, {phase}", t["answers_per_s"], base,
                      t["latency_ms"], e["others_cpu_pct"],
                      f"{t['peak_workers']:>4} {t['launched']:>4} {start:>8}"))
    print(row(f"bare native, {threads} threads, again", after["parallel"]["images_per_s"], base,
              after["parallel"]["latency_ms"], after["others_cpu_pct"]))
    print()
    print(f"native over darknet, 1 thread: {bare['single']['images_per_s'] / dn['single']['images_per_s']:.1f}x "
          f"images/s; batch of {bare['batch']['size']}: {bare['batch']['per_image_ms']:.2f} ms/image, "
          f"1 at a time {bare['batch']['per_image_ms_b1']:.2f} ms/image (decode excluded)")
    cv = r["opencv"]
    if "skipped" in cv:
        print(f"OpenCV DNN comparison skipped: {cv['skipped']}")
    else:
        print(f"OpenCV {cv['version']} DNN forward pass alone, {cv['threads']} thread: p50 "
              f"{cv['opencv_p50_ms']:.1f} ms; native p50 (1 thread, decode included) "
              f"{cv['native_p50_ms']:.1f} ms; OpenCV / native = "
              f"{cv['opencv_p50_ms'] / cv['native_p50_ms']:.2f} (medians of {len(cv['rounds'])} "
              "alternated rounds)")
    print()
    print(f"ratio: images/s over bare native with one thread per CPU ({threads} threads, the first\n"
          "measurement). Latency: bare = one classify call; up = one upload, queueing\n"
          "included; first = the quickest answer. others CPU = CPU time of other programs\n"
          "on this machine during the step, in % of all CPUs (high = disturbed figures).\n"
          "workers: peak live, newly launched, median launch -> \"worker ready\" (model\n"
          "loaded). Every answer was correct.")


def main() -> int:
    a = parse_args()
    if a.model:
        os.environ["CLOUDREC_MODEL_DIR"] = str(Path(a.model).resolve())
    build = Path(a.build).resolve()
    root = Path(tempfile.mkdtemp(prefix="cloudrec-bench-"))
    try:
        progs = programs(build)
        images = root / "images"
        pairs = make_images(Path(a.images), images, a.num)
        csv_path = root / "expect.csv"
        labels = expected_labels(progs["cloudrec"], pairs, csv_path)
        r = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpus": os.cpu_count(),
             "num": a.num, "concurrency": a.concurrency, "samples": a.images,
             "loadavg_before": loadavg()}
        r["bare"] = run_bare(progs["bench"], images, a.num, a.threads, labels)
        r["bare_darknet"] = run_bare(progs["bench"], images, a.num, a.threads, labels, "darknet")
        r["opencv"] = run_opencv(build, progs, images, a.num, labels)
        r["e2e"] = []
        for mw in a.max_workers:
            run_root = root / f"up-{mw}"
            run_root.mkdir()
            r["e2e"].append(run_e2e(progs, run_root, images, csv_path, mw, a))
        # Bare again: how far the machine drifted while the service ran.
        r["bare_after"] = run_bare(progs["bench"], images, a.num, a.threads, labels)
        r["loadavg_after"] = loadavg()
        if a.json:
            print(json.dumps(r))
        else:
            print_table(r)
        busiest = max([r["bare"]["others_cpu_pct"], r["bare_after"]["others_cpu_pct"],
                       r["bare_darknet"]["others_cpu_pct"],
                       *(e["others_cpu_pct"] for e in r["e2e"])])
        if busiest > OTHERS_WARN_PCT:
            print(f"bench/run.py: warning: other programs used up to {busiest:.0f}% of the "
                  "CPUs during a step; the figures are disturbed", file=sys.stderr)
        return 0
    except BenchError as e:
        print(f"bench/run.py: {e}", file=sys.stderr)
        return 2 if isinstance(e, SetupError) else 1
    finally:
        if a.keep:
            print(f"bench/run.py: kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
