"""`cloudrec-load` against a small threaded HTTP server on 127.0.0.1.

The server parses each multipart upload with `email.parser`, checks the form
field, and answers `<stem>:<label>` from a table, with faults on request:
wrong labels, 500s, slow answers, and a gate that holds every request until a
given number are open at once (so concurrency is proven by what the server saw,
not by wall-clock timing).
"""
import hashlib
import json
import os
import pty
import re
import select
import shutil
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import DARKNET_DATA, png_bytes, run

FIELDS = ("inputFile", "myfile", "file")


class LoadServer(ThreadingHTTPServer):
    """A web tier stand-in that records what it received."""

    daemon_threads = True
    request_queue_size = 512  # 100+ connects arrive at once

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Condition()
        self.labels = {}          # stem -> label
        self.wrong = set()        # stems answered with a wrong label
        self.fail = set()         # stems answered with 500
        self.other_stem = set()   # stems answered as another file
        self.long_body = set()    # stems answered with a 10 kB body
        self.delay_s = 0.0
        self.gate = 0             # hold requests until this many are open
        self.gate_reached = False
        self.open = 0
        self.max_open = 0
        self.uploads = []         # (field, filename, sha256)
        self.peers = set()        # client (host, port): one per connection

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/upload"

    def enter(self, peer):
        with self.lock:
            self.open += 1
            self.max_open = max(self.max_open, self.open)
            self.peers.add(peer)
            self.lock.notify_all()
            if self.gate and self.open >= self.gate:
                self.gate_reached = True  # a latch: later requests pass freely
            if self.gate:
                self.lock.wait_for(lambda: self.gate_reached, timeout=20)

    def leave(self):
        with self.lock:
            self.open -= 1

    def answer(self, stem):
        """(status, body) for an upload of `stem`."""
        if stem in self.fail:
            return 500, "backend exploded\n"
        if stem in self.long_body:
            return 200, f"{stem}:" + "x" * 10000
        label = self.labels.get(stem, "unknown")
        if stem in self.wrong:
            label = "definitely-not-" + label
        if stem in self.other_stem:
            stem = stem + "_other"
        return 200, f"{stem}:{label}\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse shows

    def log_message(self, *args):
        pass

    def reply(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def parse_upload(self):
        """(field, filename, bytes) of the first part with a file name."""
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        msg = BytesParser(policy=HTTP).parsebytes(head + body)
        if not msg.is_multipart():
            return None
        for part in msg.iter_parts():
            if part.get_filename():
                field = part.get_param("name", header="content-disposition")
                return field, part.get_filename(), part.get_payload(decode=True)
        return None

    def do_POST(self):
        srv = self.server
        srv.enter(self.client_address)
        try:
            upload = self.parse_upload()
            if upload is None or upload[0] not in FIELDS:
                return self.reply(400, "no file\n")
            field, filename, data = upload
            with srv.lock:
                srv.uploads.append((field, filename, hashlib.sha256(data).hexdigest()))
            if srv.delay_s:
                time.sleep(srv.delay_s)
            self.reply(*srv.answer(Path(filename).stem))
        finally:
            srv.leave()


@pytest.fixture
def server():
    srv = LoadServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="session")
def load_tool() -> str:
    path = os.environ.get("CLOUDREC_LOAD")
    assert path and os.access(path, os.X_OK), "CLOUDREC_LOAD must name the built cloudrec-load"
    return path


LABELS = {"test_0": "dog", "test_1": "bald eagle", "test_2": "giraffe", "test_3": "sorrel",
          "test_4": "kite", "test_5": "person", "test_6": "tiger cat, large", "test_7": "pattern"}


@pytest.fixture
def images(tmp_path, server) -> Path:
    """Darknet's sample JPEGs as test_0.JPEG.. plus one PNG and a non-image."""
    d = tmp_path / "images"
    d.mkdir()
    for i, src in enumerate(sorted(DARKNET_DATA.glob("*.jpg"))[:7]):
        shutil.copy(src, d / f"test_{i}.JPEG")
    (d / "test_7.png").write_bytes(png_bytes(16, 16))
    (d / "notes.txt").write_text("not an image\n")
    server.labels = dict(LABELS)
    return d


def image_files(d: Path):
    return sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpeg", ".jpg", ".png"))


def totals_text(stdout: str) -> dict:
    """The `key value` lines of the totals block."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("requests", "sent", "answered", "correct", "wrong",
                                            "errors", "unchecked"):
            out[parts[0]] = int(parts[1])
    return out


def write_csv(path: Path, lines) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_every_upload_answered_and_correct(load_tool, server, images):
    res = run([load_tool, "--url", server.url, "--images", str(images), "--concurrency", "4"])
    assert res.returncode == 0, res.stdout + res.stderr
    files = image_files(images)
    lines = [line for line in res.stdout.splitlines() if ".JPEG: " in line or ".png: " in line]
    assert sorted(lines) == sorted(f"{p.name}: {p.stem}:{LABELS[p.stem]}" for p in files)
    t = totals_text(res.stdout)
    assert t == {"requests": 8, "sent": 8, "answered": 8, "correct": 8, "wrong": 0, "errors": 0,
                 "unchecked": 8}
    assert "throughput" in res.stdout and "p99" in res.stdout
    # Exactly the files' bytes arrived, once each, under their names; no progress
    # line on a stderr that is not a terminal.
    got = sorted((name, sha) for _, name, sha in server.uploads)
    assert got == sorted((p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in files)
    assert res.stderr == ""


@pytest.mark.parametrize("field", FIELDS)
def test_field_name_reaches_the_server(load_tool, server, images, field):
    res = run([load_tool, "--url", server.url, "--images", str(images), "--field", field,
               "--quiet"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert {f for f, _, _ in server.uploads} == {field}


def test_default_field_is_inputFile(load_tool, server, images):
    res = run([load_tool, "--url", server.url, "--images", str(images), "--quiet"])
    assert res.returncode == 0, res.stderr
    assert {f for f, _, _ in server.uploads} == {"inputFile"}


def test_expect_marks_wrong_labels(load_tool, server, images, tmp_path):
    server.wrong = {"test_2"}
    csv = write_csv(tmp_path / "expect.csv", [f"{k},{v}" for k, v in LABELS.items()])
    res = run([load_tool, "--url", server.url, "--images", str(images), "--expect", str(csv)])
    assert res.returncode == 1, res.stdout + res.stderr
    assert "test_2.JPEG: test_2:definitely-not-giraffe WRONG (expected giraffe)" in res.stdout
    t = totals_text(res.stdout)
    assert (t["answered"], t["correct"], t["wrong"], t["errors"], t["unchecked"]) == (8, 7, 1, 0, 0)


def test_expect_csv_forms(load_tool, server, images, tmp_path):
    """Names with or without extension, a header, comments, CRLF, and a label
    with a comma either quoted or taken as everything after the first comma."""
    lines = ["Image,Results", "# comment", "test_0.JPEG,dog", "test_1, bald eagle ",
             'test_2,"giraffe"', "test_3,sorrel\r", "test_4.JPEG,kite", "test_5,person",
             '"test_6","tiger cat, large"', "test_7.png,pattern"]
    csv = write_csv(tmp_path / "expect.csv", lines)
    res = run([load_tool, "--url", server.url, "--images", str(images), "--expect", str(csv),
               "--quiet"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert totals_text(res.stdout)["correct"] == 8
    # Everything after the first comma is the label, unquoted commas included.
    write_csv(csv, ["test_6,tiger cat, large"] + [f"{k},{v}" for k, v in LABELS.items()
                                                  if k != "test_6"])
    res = run([load_tool, "--url", server.url, "--images", str(images), "--expect", str(csv),
               "--quiet"])
    assert res.returncode == 0, res.stdout + res.stderr


def test_expect_without_entry_warns_and_checks_form(load_tool, server, images, tmp_path):
    csv = write_csv(tmp_path / "expect.csv", ["test_0,dog"])
    res = run([load_tool, "--url", server.url, "--images", str(images), "--expect", str(csv),
               "--quiet"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "7 of 8 images have no label" in res.stderr
    assert totals_text(res.stdout)["unchecked"] == 7


def test_answer_for_another_file_is_wrong(load_tool, server, images):
    server.other_stem = {"test_1"}
    res = run([load_tool, "--url", server.url, "--images", str(images)])
    assert res.returncode == 1
    assert "test_1.JPEG: test_1_other:bald eagle WRONG (expected test_1:<label>)" in res.stdout
    assert totals_text(res.stdout)["wrong"] == 1


def test_server_errors_are_counted(load_tool, server, images):
    server.fail = {"test_3", "test_5"}
    res = run([load_tool, "--url", server.url, "--images", str(images)])
    assert res.returncode == 1
    assert "test_3.JPEG: ERROR 500 backend exploded" in res.stdout
    t = totals_text(res.stdout)
    assert (t["sent"], t["answered"], t["correct"], t["errors"]) == (8, 6, 6, 2)


def test_long_answer_is_bounded(load_tool, server, images):
    server.long_body = {"test_4"}
    res = run([load_tool, "--url", server.url, "--images", str(images), "--json"])
    assert res.returncode == 1
    answers = [json.loads(line) for line in res.stdout.splitlines()[:-1]]
    long = next(a for a in answers if a["file"] == "test_4.JPEG")
    # A 10 kB answer is not a `stem:label` line: kept to 4096 bytes, judged wrong.
    assert long["verdict"] == "wrong" and long["http_status"] == 200
    assert len(long["answer"]) == 4096 and long["truncated"] is True
    res = run([load_tool, "--url", server.url, "--images", str(images)])
    assert "test_4.JPEG: test_4:xxx" in res.stdout and "WRONG (answer longer than" in res.stdout


def test_concurrency_reaches_the_server(load_tool, server, images):
    # Every request waits until 50 are open at once: only a client that really
    # keeps 50 in flight gets answers without the gate's timeout.
    server.gate = 50
    res = run([load_tool, "--url", server.url, "--images", str(images), "--num", "50",
               "--concurrency", "50", "--quiet", "--json"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert server.max_open == 50
    totals = json.loads(res.stdout)["totals"]
    assert totals["answered"] == totals["correct"] == 50


def test_concurrency_is_a_cap(load_tool, server, images):
    server.delay_s = 0.1
    res = run([load_tool, "--url", server.url, "--images", str(images), "--num", "30",
               "--concurrency", "5", "--quiet"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert 1 < server.max_open <= 5
    # Connections are reused: a handful of them carried all 30 uploads.
    assert len(server.peers) <= 10


def test_hundred_concurrent_uploads_all_checked(load_tool, server, images, tmp_path):
    server.gate = 100
    csv = write_csv(tmp_path / "expect.csv", [f"{k},{v}" for k, v in LABELS.items()])
    res = run([load_tool, "--url", server.url, "--images", str(images), "--num", "200",
               "--expect", str(csv), "--json"])
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    answers, totals = lines[:-1], lines[-1]["totals"]
    assert server.max_open == 100
    assert sorted(a["index"] for a in answers) == list(range(200))
    assert all(a["verdict"] == "correct" and a["http_status"] == 200 for a in answers)
    assert totals["correct"] == 200 and totals["wrong"] == 0 and totals["errors"] == 0
    assert 0 < totals["latency_ms"]["p50"] <= totals["latency_ms"]["p90"] \
        <= totals["latency_ms"]["p99"] <= totals["latency_ms"]["max"]


def test_num_cycles_through_the_images(load_tool, server, images):
    res = run([load_tool, "--url", server.url, "--images", str(images), "--num", "20",
               "--concurrency", "3", "--quiet"])
    assert res.returncode == 0, res.stderr
    names = [p.name for p in image_files(images)]
    counts = {n: sum(1 for _, f, _ in server.uploads if f == n) for n in names}
    assert counts == {n: 3 if i < 4 else 2 for i, n in enumerate(names)}


def test_image_files_as_arguments(load_tool, server, images):
    files = [str(p) for p in image_files(images)[:2]]
    res = run([load_tool, "--url", server.url, *files])
    assert res.returncode == 0, res.stderr
    assert totals_text(res.stdout)["correct"] == 2


def test_connection_refused(load_tool, images):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    res = run([load_tool, "--url", f"http://127.0.0.1:{port}/", "--images", str(images)])
    assert res.returncode == 1
    assert "test_0.JPEG: ERROR " in res.stdout
    t = totals_text(res.stdout)
    assert (t["sent"], t["answered"], t["errors"]) == (8, 0, 8)


def test_timeout(load_tool, server, images):
    server.delay_s = 3
    res = run([load_tool, "--url", server.url, "--images", str(images), "--num", "2",
               "--timeout-ms", "300"])
    assert res.returncode == 1
    assert "ERROR" in res.stdout and "timed out" in res.stdout.lower()
    assert totals_text(res.stdout)["errors"] == 2


def test_json_totals(load_tool, server, images):
    res = run([load_tool, "--url", server.url, "--images", str(images), "--json", "--quiet"])
    assert res.returncode == 0, res.stderr
    totals = json.loads(res.stdout)["totals"]
    assert (totals["requests"], totals["sent"], totals["answered"], totals["correct"]) == \
        (8, 8, 8, 8)
    assert totals["wall_s"] > 0 and totals["answers_per_s"] > 0
    assert set(totals["latency_ms"]) == {"p50", "p90", "p99", "max"}


def read_all(fd) -> bytes:
    """Whatever is waiting on a pty master, without blocking."""
    data = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO once the slave side is closed and drained
            break
        if not chunk:
            break
        data += chunk
    return data


def test_progress_line_only_on_a_terminal(load_tool, server, images):
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([load_tool, "--url", server.url, "--images", str(images),
                               "--quiet"], stdout=subprocess.PIPE, stderr=slave, timeout=120)
        os.close(slave)
        slave = -1
        err = read_all(master)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert proc.returncode == 0
    assert b"[8/8]" in err and b"\r" in err
    assert b"\n" not in err  # one line, redrawn in place and erased at the end
    assert b"[" not in proc.stdout


BAD_ARGS = [
    ([], "--url is required"),
    (["--url", "http://x/", "--concurrency", "0", "IMG"], "--concurrency"),
    (["--url", "http://x/", "--num", "lots", "IMG"], "--num"),
    (["--url", "http://x/", "--field", "upload", "IMG"], "--field"),
    (["--url", "http://x/", "--timeout-ms", "-5", "IMG"], "--timeout-ms"),
    (["--url", "http://x/"], "nothing to upload"),
    (["--url", "http://x/", "--images", "/nonexistent-dir"], "/nonexistent-dir"),
    (["--url", "ftp://x/", "IMG"], "not an http"),
    (["--url", "http://x/", "--expect", "/nonexistent.csv", "IMG"], "/nonexistent.csv"),
    (["--url", "http://x/", "--bogus", "IMG"], "unknown option '--bogus'"),
]


@pytest.mark.parametrize("args,message", BAD_ARGS)
def test_usage_errors_exit_2(load_tool, images, args, message):
    img = str(image_files(images)[0])
    res = run([load_tool, *[img if a == "IMG" else a for a in args]])
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr
    assert res.stdout == ""


def test_malformed_csv_exit_2(load_tool, images, tmp_path):
    csv = write_csv(tmp_path / "bad.csv", ["test_0,dog", "no comma here"])
    res = run([load_tool, "--url", "http://127.0.0.1:1/", "--images", str(images),
               "--expect", str(csv)])
    assert res.returncode == 2
    assert "bad.csv: line 2" in res.stderr


def test_help(load_tool):
    res = run([load_tool, "--help"])
    assert res.returncode == 0
    assert res.stdout.startswith("usage: cloudrec-load") and "--concurrency" in res.stdout


def test_progress_lines_when_asked(load_tool, server, images):
    server.delay_s = 0.4  # a run long enough for a few progress calls
    res = run([load_tool, "--url", server.url, "--images", str(images), "--quiet", "--progress",
               "--concurrency", "2"])
    assert res.returncode == 0, res.stderr
    lines = [l for l in res.stderr.splitlines() if "answers/s" in l]
    assert len(lines) >= 2, res.stderr
    assert "\x1b[" not in res.stderr  # no terminal codes into a file
    assert re.search(r"\[8/8\] sent 8, in flight 0, correct 8, wrong 0, errors 0, "
                     r"[0-9.]+ answers/s, p50 \d+ ms$", lines[-1]), lines[-1]
    # While uploads were in flight, a line said so.
    assert any(re.search(r"in flight [12],", l) for l in lines), lines


def svg_series(path: Path) -> dict:
    """data-series -> element of the report's SVG (parsed as XML)."""
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return {e.get("data-series"): e for e in root.iter() if e.get("data-series")}


def answered_in(path: Path) -> int:
    """The answers the report's rate line adds up to: rate x bucket width."""
    root = ET.parse(path).getroot()
    group = next(g for g in root.iter() if g.get("data-bucket-s"))
    line = next(e for e in group if e.get("data-series") == "answers_per_s")
    width = float(group.get("data-bucket-s"))
    return round(sum(float(v) for v in line.get("data-values").split(",")) * width)


def test_report_svg(load_tool, server, images, tmp_path):
    out = tmp_path / "run.svg"
    server.fail.add("test_3")
    res = run([load_tool, "--url", server.url, "--images", str(images), "--num", "16", "--quiet",
               "--report", str(out)])
    assert res.returncode == 1, res.stderr  # test_3 failed twice
    series = svg_series(out)
    dots = series["latency_ms"]
    assert int(dots.get("data-count")) == 16 and len(list(dots)) == 16
    assert sum(1 for c in dots if c.get("fill") == "#dc2626") == 2  # the two errors, in red
    assert answered_in(out) == 14
    # This stand-in has no /v1/stats: the picture says so instead of guessing.
    assert "fleet size unknown" in series["none"].text and "v1/stats" in series["none"].text
    assert series["workers"].get("data-values") == ""
    assert "urllib" not in out.read_text() and "<script" not in out.read_text()


def test_report_html_and_bad_name(load_tool, server, images, tmp_path):
    out = tmp_path / "run.html"
    res = run([load_tool, "--url", server.url, "--images", str(images), "--quiet",
               "--report", str(out)])
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text and "</html>" in text
    res = run([load_tool, "--url", server.url, "--images", str(images), "--report",
               str(tmp_path / "run.png")])
    assert res.returncode == 2 and "--report" in res.stderr
