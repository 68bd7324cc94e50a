#!/usr/bin/env python3
"""bench/burst.py - the course's burst: 100 distinct photos sent at once, one
connection each, against default `cloudrec up` from cold (no worker running)
and then warm, and against a ~40-line threaded Python server running OpenCV
DNN on the same cfg and weights, in the same run, with the same client
(cloudrec-load) and the same images. Prints average, p50, p95, max latency
and wall time for each, the answers checked against Darknet's labels, and
the ratios. Nothing here is a test: it prints figures (docs/benchmarks.md).

    bench/burst.py [--build build] [--rounds N] [--no-opencv] [--json FILE]
                   [--up-arg=--max-workers=20 ...]

The photos are 100 different crops, scales and flips of Darknet's sample
images (made with OpenCV in the bench virtualenv, BUILD/bench-venv as
bench/run.py uses, or $CLOUDREC_BENCH_VENV; opencv-python-headless<5 from
PyPI). Expected
labels come from `cloudrec classify --engine darknet`, the reference.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DARKNET_DATA = Path("/usr/share/darknet/data")
CFG = Path("/usr/share/darknet/cfg/tiny.cfg")
NAMES = Path("/usr/share/darknet/data/imagenet.shortnames.list")
UPLOADS = 100

# The peer: a threaded stdlib HTTP server, one OpenCV network behind a lock,
# OpenCV's own threads (both cores) inside each forward pass. Darknet's
# letterbox (aspect kept, grey 0.5 border) so its labels match the model's.
OPENCV_SERVER = r'''
import cgi, sys, threading, cv2, numpy as np
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
cfg, weights, names, port = sys.argv[1:5]
net = cv2.dnn.readNetFromDarknet(cfg, weights)
labels = open(names).read().splitlines()
lock = threading.Lock()
def letterbox(img, size=224):
    h, w = img.shape[:2]
    s = min(size / w, size / h)
    nw, nh = int(w * s), int(h * s)
    out = np.full((size, size, 3), 0.5, np.float32)
    small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    out[(size - nh) // 2:(size - nh) // 2 + nh, (size - nw) // 2:(size - nw) // 2 + nw] = small
    return out
class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args): pass
    def do_POST(self):
        form = cgi.FieldStorage(self.rfile, headers=self.headers,
                                environ={"REQUEST_METHOD": "POST"})
        item = form["inputFile"]
        img = cv2.imdecode(np.frombuffer(item.file.read(), np.uint8), cv2.IMREAD_COLOR)
        blob = cv2.dnn.blobFromImage(letterbox(img), 1.0, (224, 224), swapRB=True)
        with lock:
            net.setInput(blob)
            out = net.forward().flatten()
        body = f"{item.filename.rsplit('.', 1)[0]}:{labels[int(out.argmax())]}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
ThreadingHTTPServer.request_queue_size = 256
srv = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
print("ready", flush=True)
srv.serve_forever()
'''

# Makes n distinct photos from the samples: crops, scales, flips, qualities.
MAKE_IMAGES = r'''
import sys, cv2
from pathlib import Path
src, dst, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
samples = sorted(src.glob("*.jpg"))
for i in range(n):
    img = cv2.imread(str(samples[i % len(samples)]))
    h, w = img.shape[:2]
    k = i // len(samples)
    f = 0.75 + 0.25 * ((k * 7) % 5) / 4          # keep 75..100 % of each side
    x0 = int((w - w * f) * ((k * 3) % 4) / 3)
    y0 = int((h - h * f) * ((k * 5) % 4) / 3)
    crop = img[y0:y0 + int(h * f), x0:x0 + int(w * f)]
    scale = (0.4, 0.6, 0.8, 1.0)[k % 4]
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if k % 3 == 1:
        crop = cv2.flip(crop, 1)
    cv2.imwrite(str(dst / f"photo_{i:03d}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 80 + k % 15])
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def model_dir() -> Path:
    for cand in (os.environ.get("CLOUDREC_MODEL_DIR"), ROOT / "models/tiny-darknet",
                 ROOT.parent / "shared/models/tiny-darknet"):
        if cand and (Path(cand) / "tiny.weights").is_file():
            return Path(cand).resolve()
    sys.exit("burst.py: no model (set CLOUDREC_MODEL_DIR)")


def bench_venv(build: Path) -> Path:
    """The bench-only virtualenv with OpenCV; made on first use. None if the
    registry or venv module is not available."""
    venv = Path(os.environ.get("CLOUDREC_BENCH_VENV", build / "bench-venv"))
    py = venv / "bin/python"
    if py.exists() and subprocess.run([py, "-c", "import cv2"], capture_output=True).returncode == 0:
        return py
    print(f"making the bench virtualenv {venv} (opencv-python-headless<5) ...", file=sys.stderr)
    if subprocess.run([sys.executable, "-m", "venv", str(venv)]).returncode != 0:
        return None
    pip = subprocess.run([py, "-m", "pip", "install", "--quiet", "opencv-python-headless<5",
                          "numpy"])
    return py if pip.returncode == 0 else None


def make_images(py, folder: Path):
    if py:
        subprocess.run([py, "-c", MAKE_IMAGES, str(DARKNET_DATA), str(folder), str(UPLOADS)],
                       check=True)
        return
    # Without OpenCV: the samples again, made distinct by a JPEG comment.
    samples = sorted(DARKNET_DATA.glob("*.jpg"))
    for i in range(UPLOADS):
        data = samples[i % len(samples)].read_bytes()
        note = f"copy {i}".encode()
        data = data[:2] + b"\xff\xfe" + (len(note) + 2).to_bytes(2, "big") + note + data[2:]
        (folder / f"photo_{i:03d}.jpg").write_bytes(data)


def reference_labels(cli: str, folder: Path, out: Path):
    files = sorted(folder.glob("*.jpg"))
    res = subprocess.run([cli, "classify", "--engine", "darknet", "--json", "--top", "1",
                          *map(str, files)], capture_output=True, text=True, env=model_env())
    if res.returncode != 0:
        sys.exit(f"burst.py: classify failed: {res.stderr}")
    with open(out, "w") as f:
        for line in res.stdout.splitlines():
            doc = json.loads(line)
            f.write(f"{Path(doc['file']).stem},{doc['predictions'][0]['label']}\n")


def model_env() -> dict:
    return dict(os.environ, CLOUDREC_MODEL_DIR=str(model_dir()))


def burst(load: str, url: str, folder: Path, expect: Path) -> dict:
    """One burst of UPLOADS at once through cloudrec-load; the figures."""
    res = subprocess.run([load, "--url", url, "--images", str(folder), "--num", str(UPLOADS),
                          "--concurrency", str(UPLOADS), "--expect", str(expect), "--json"],
                         capture_output=True, text=True, timeout=900)
    answers = [json.loads(l) for l in res.stdout.splitlines() if l.startswith('{"index"')]
    lat = sorted(a["latency_ms"] / 1000 for a in answers if a["http_status"] == 200)
    totals = next(json.loads(l)["totals"] for l in res.stdout.splitlines() if '"totals"' in l)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat) + 0.999999) - 1)] if lat else 0.0
    return {"avg_s": statistics.mean(lat) if lat else 0.0, "p50_s": pick(0.5),
            "p95_s": pick(0.95), "max_s": lat[-1] if lat else 0.0,
            "wall_s": totals["wall_s"], "correct": totals["correct"], "sent": UPLOADS}


def wait_line(proc, word: str, timeout_s: float = 120):
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            return False
        if word in line:
            return True
    return False


def run_cloudrec(build: Path, folder: Path, expect: Path, tmp: Path, up_args=()) -> tuple:
    port = free_port()
    up = subprocess.Popen([build / "tools/cloudrec", "up", "--port", str(port),
                           "--data", str(tmp / "data"), *up_args], stdout=subprocess.PIPE,
                          stderr=open(tmp / "up.log", "w"), text=True, env=model_env())
    try:
        if not wait_line(up, "cloudrec is up"):
            sys.exit(f"burst.py: cloudrec up did not start; see {tmp / 'up.log'}")
        url = f"http://127.0.0.1:{port}/"
        cold = burst(str(build / "tools/cloudrec-load"), url, folder, expect)
        warm = burst(str(build / "tools/cloudrec-load"), url, folder, expect)
        return cold, warm
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(120)


def run_opencv(py, build: Path, folder: Path, expect: Path, tmp: Path) -> dict:
    port = free_port()
    script = tmp / "opencv_server.py"
    script.write_text(OPENCV_SERVER)
    srv = subprocess.Popen([py, str(script), str(CFG), str(model_dir() / "tiny.weights"),
                            str(NAMES), str(port)], stdout=subprocess.PIPE, text=True)
    try:
        if not wait_line(srv, "ready"):
            sys.exit("burst.py: the OpenCV server did not start")
        return burst(str(build / "tools/cloudrec-load"), f"http://127.0.0.1:{port}/", folder,
                     expect)
    finally:
        srv.terminate()
        srv.wait(60)


def row(name: str, r: dict) -> str:
    return (f"{name:<22} {r['avg_s']:7.3f} {r['p50_s']:7.3f} {r['p95_s']:7.3f} "
            f"{r['max_s']:7.3f} {r['wall_s']:7.3f}   {r['correct']}/{r['sent']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(ROOT / "build"), help="build directory")
    ap.add_argument("--rounds", type=int, default=1, help="repeat everything N times")
    ap.add_argument("--no-opencv", action="store_true", help="skip the OpenCV peer")
    ap.add_argument("--json", help="also write the figures to FILE")
    ap.add_argument("--up-arg", action="append", default=[],
                    help="also run cloudrec up with these extra flags (repeatable, e.g. "
                         "--up-arg=--max-workers=20), after the default one")
    a = ap.parse_args()
    build = Path(a.build).resolve()
    py = None if a.no_opencv else bench_venv(build)
    if not a.no_opencv and not py:
        print("burst.py: no OpenCV virtualenv; the peer is skipped", file=sys.stderr)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="cloudrec-burst-") as t:
        tmp = Path(t)
        folder = tmp / "photos"
        folder.mkdir()
        make_images(py, folder)
        expect = tmp / "expect.csv"
        reference_labels(str(build / "tools/cloudrec"), folder, expect)
        print(f"{os.cpu_count()} CPUs, {UPLOADS} distinct photos sent at once, one connection "
              "each (cloudrec-load); latency in seconds")
        print(f"{'server':<22} {'avg':>7} {'p50':>7} {'p95':>7} {'max':>7} {'wall':>7}   correct")
        for n in range(a.rounds):
            run = tmp / f"round{n}"
            run.mkdir()
            cold, warm = run_cloudrec(build, folder, expect, run)
            r = {"cloudrec_cold": cold, "cloudrec_warm": warm}
            print(row("cloudrec up, cold", cold))
            print(row("cloudrec up, warm", warm))
            if a.up_arg:
                extra = run / "extra"
                extra.mkdir()
                cold2, warm2 = run_cloudrec(build, folder, expect, extra, a.up_arg)
                r["extra_args"], r["extra_cold"], r["extra_warm"] = a.up_arg, cold2, warm2
                print(row("  " + " ".join(a.up_arg) + ", cold", cold2))
                print(row("  " + " ".join(a.up_arg) + ", warm", warm2))
            if py:
                r["opencv"] = run_opencv(py, build, folder, expect, run)
                print(row("OpenCV server", r["opencv"]))
                print(f"warm average / OpenCV average: "
                      f"{warm['avg_s'] / r['opencv']['avg_s']:.2f}")
            rounds.append(r)
    if a.json:
        Path(a.json).write_text(json.dumps({"cpus": os.cpu_count(), "rounds": rounds}, indent=1))


if __name__ == "__main__":
    main()
