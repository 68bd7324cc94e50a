"""The fault suite (local mode): each fault a user could meet, asserted on
what the user sees (the label, a 503 with its reason), never on log lines
alone. Supervision (a killed web tier or scaler) and slow clients are in
test_up.py and test_web.py."""
import http.client
import re
import subprocess
import threading
from pathlib import Path
import time

from service_helpers import wait_for
from test_up import Service, labels, post  # noqa: F401 (labels is a fixture)

QUEUE_FILES = ("queue.db", "queue.db-wal", "queue.db-shm")


def healthz(port: int) -> tuple:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_removed_queue_is_reported_and_recreating_it_recovers(cli, tmp_path, sample_images,
                                                              labels):
    svc = Service(cli, tmp_path)
    try:
        img = sample_images[0]
        want = (200, f"{img.stem}:{labels[img.name]}")
        assert post(svc.port, img) == want
        assert healthz(svc.port) == (200, "ok\n")
        for name in QUEUE_FILES:
            (svc.data / name).unlink(missing_ok=True)
        # Within 5 s the service says it is not ok, and why.
        assert wait_for(lambda: healthz(svc.port)[0] == 503, timeout_s=5)
        status, body = healthz(svc.port)
        assert re.fullmatch(r"(request|reply) queue: .*queue\.db: (the queue database was "
                            r"removed|no such queue database).*cloudrec setup.*\n",
                            body), body
        # An upload is refused with a reason instead of being swallowed.
        status, body = post(svc.port, img)
        assert status == 503 and "queue" in body, (status, body)
        # The operator recreates the queues; the running service recovers.
        q = f"sqlite://{svc.data}/queue.db"
        res = subprocess.run([cli, "setup", "--requests", f"{q}?name=requests",
                              "--replies", f"{q}?name=replies",
                              "--dead-letter", f"{q}?name=requests-dead"],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert wait_for(lambda: healthz(svc.port) == (200, "ok\n"), timeout_s=30), \
            healthz(svc.port)
        assert post(svc.port, sample_images[1]) == (
            200, f"{sample_images[1].stem}:{labels[sample_images[1].name]}")
    finally:
        svc.proc.send_signal(2)
        svc.proc.wait(120)


def metric(port: int, name: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else -1


def test_workers_that_cannot_start_are_reported_and_backed_off(cli, tmp_path, sample_images,
                                                               labels, model_dir):
    """The model disappears after the service started: workers die at start.
    /healthz says so with the reason, launches back off instead of looping,
    /metrics counts them, and once the model is back the waiting upload is
    answered."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "tiny.weights").symlink_to(model_dir / "tiny.weights")
    (tmp_path / "svc").mkdir()
    svc = Service(cli, tmp_path / "svc", "--model", str(model))
    try:
        model.rename(tmp_path / "model.gone")
        img = sample_images[0]
        answer = {}
        t = threading.Thread(target=lambda: answer.update(r=post(svc.port, img)))
        t.start()
        assert wait_for(lambda: healthz(svc.port)[0] == 503, timeout_s=30), healthz(svc.port)
        status, body = healthz(svc.port)
        assert re.fullmatch(r"workers cannot start: \d+ workers in a row exited before they "
                            r"were ready \(last: w-\d+ exit=\d+\); next launch in \d+ ms\n",
                            body), body
        assert metric(svc.port, "cloudrec_fleet_launch_failures_total") >= 1
        # Backed off: far fewer worker starts than scaler ticks (200 ms) in 3 s.
        time.sleep(3)
        launched = len(re.findall(r'msg="worker launched"', svc.log()))
        assert launched <= 6, launched
        (tmp_path / "model.gone").rename(model)
        t.join(timeout=120)
        assert answer["r"] == (200, f"{img.stem}:{labels[img.name]}")
        assert wait_for(lambda: healthz(svc.port) == (200, "ok\n"), timeout_s=30)
    finally:
        svc.proc.send_signal(2)
        svc.proc.wait(120)


def big_png(path, side=6300):
    """A 6300x6300 RGB PNG that compresses to ~130 KB: the decompression-bomb
    shape of the reliability issue (40 megapixels, just under the limit)."""
    import struct
    import zlib
    row = b"\0" + b"\x80" * (side * 3)
    comp = zlib.compressobj(9)
    data = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" +
                     chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)) +
                     chunk(b"IDAT", data) + chunk(b"IEND", b""))


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def test_a_40_megapixel_png_is_answered_by_a_worker_under_200_mb(cli, tmp_path):
    """Decoding is bounded: the worker that answers a 6300x6300 upload never
    holds more than 200 MB (the image alone would be 476 MB as floats)."""
    img = tmp_path / "huge.png"
    big_png(img)
    (tmp_path / "svc").mkdir()
    svc = Service(cli, tmp_path / "svc", "--scale-in-window-ms", "60000")
    try:
        status, body = post(svc.port, img)
        assert status == 200 and body.startswith("huge:"), (status, body)
        workers = [pid for pid in svc.descendants()
                   if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
                   .endswith(b"/cloudrec-worker")]
        assert workers
        peaks = [peak_rss_kb(pid) for pid in workers]
        print(f"\nworkers' peak RSS {peaks} kB for a 6300x6300 PNG")
        assert 0 < max(peaks) < 200 * 1024, peaks
    finally:
        svc.proc.send_signal(2)
        svc.proc.wait(120)
