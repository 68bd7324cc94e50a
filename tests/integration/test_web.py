"""`cloudrec-web`, the web tier, against its HTTP contract (DESIGN section 4).

Each test starts the server on a free port of 127.0.0.1 with file:// stores
and sqlite:// queues in a temporary directory. The worker is played by
tests/integration/fake_worker, which answers `label-<size>-<last byte>` so the
expected answer of every upload is known, can send each reply several times,
and refuses files named bad*. One test runs the real cloudrec-worker.
"""
import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import DARKNET_DATA, png_bytes, run
from darknet_reference import stock_labels
from service_helpers import wait_for

DOG = DARKNET_DATA / "dog.jpg"


def build_path(*parts) -> str:
    root = os.environ.get("CLOUDREC_BUILD_ROOT")
    assert root, "CLOUDREC_BUILD_ROOT must name the build directory (run through meson test)"
    return str(Path(root, *parts))


WEB = os.environ.get("CLOUDREC_WEB") or build_path("tools", "cloudrec-web")
FAKE_WORKER = build_path("tests", "integration", "fake_worker")


def expected_label(data: bytes) -> str:
    """The fake worker's label: the image's length and FNV-1a hash."""
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return f"label-{len(data)}-{h:08x}"


def multipart(parts, boundary=None):
    """(body, content type) for parts of (field, filename or None, bytes)."""
    boundary = boundary or "----cloudrec" + uuid.uuid4().hex
    out = b""
    for field, filename, data in parts:
        disp = f'form-data; name="{field}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        # surrogateescape lets a test send bytes that are not UTF-8.
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode("utf-8", "surrogateescape")
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


class Server:
    """A running cloudrec-web (and, on request, fake workers) over one stack."""

    def __init__(self, root: Path, *flags, name="web"):
        self.root = root
        (root / "input").mkdir(parents=True, exist_ok=True)
        (root / "output").mkdir(parents=True, exist_ok=True)
        db = root / "queue.db"
        self.requests = f"sqlite://{db}?name=requests"
        self.replies = f"sqlite://{db}?name=replies"
        self.input_url = f"file://{root / 'input'}"
        self.output_url = f"file://{root / 'output'}"
        self.log = root / f"{name}.log"
        self.workers = []
        self.proc = subprocess.Popen(
            [WEB, "--bind", "127.0.0.1", "--port", "0", "--input", self.input_url,
             "--output", self.output_url, "--requests", self.requests,
             "--replies", self.replies, "--log-level", "debug", *flags],
            stdout=subprocess.PIPE, stderr=open(self.log, "wb"), text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        assert m, f"no listening line: {line!r}\n{self.log_text()}"
        self.port = int(m.group(1))

    def log_text(self):
        return self.log.read_text(errors="replace")[-4000:]

    def start_worker(self, *flags):
        log = open(self.root / f"worker{len(self.workers)}.log", "wb")
        proc = subprocess.Popen([FAKE_WORKER, "--requests", self.requests,
                                 "--output", self.output_url, *flags],
                                stdout=subprocess.PIPE, stderr=log, text=True)
        assert proc.stdout.readline().strip() == "ready"
        self.workers.append(proc)
        return proc

    def request(self, method, path, body=None, headers=None, timeout=120):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return Response(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            conn.close()

    def upload(self, name, data, field="inputFile", path="/", headers=None, timeout=120):
        body, ctype = multipart([(field, name, data)])
        return self.request("POST", path, body, {"Content-Type": ctype, **(headers or {})},
                            timeout=timeout)

    def metric(self, name):
        text = self.request("GET", "/metrics").text
        m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        assert m, f"{name} not in /metrics"
        return float(m.group(1))

    def stop(self, timeout_s=60):
        """SIGTERM everything; the web tier must exit 0 with a clean log."""
        for w in self.workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
            w.wait(timeout=timeout_s)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout_s)
        log = self.log_text()
        assert rc == 0, f"cloudrec-web exited {rc}\n{log}"
        assert "Sanitizer" not in log and "runtime error" not in log, log
        return log


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(*flags, sub="s"):
        s = Server(tmp_path / f"{sub}{len(servers)}", *flags)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server with one fake worker, for the tests that do not change flags."""
    s = Server(tmp_path_factory.mktemp("web"))
    s.start_worker()
    yield s
    s.stop()


def one_line_reason(resp, pattern):
    m = re.search(pattern, resp.text)
    assert m, resp.text
    assert resp.text.endswith("\n") and resp.text.count("\n") == 1, repr(resp.text)
    assert resp.headers["Content-Type"].startswith("text/plain")
    return m


# ---- the happy path --------------------------------------------------------

def test_upload_answers_stem_and_label(shared):
    data = DOG.read_bytes()
    resp = shared.upload("img.jpg", data)
    assert resp.status == 200, resp.text
    assert resp.text == f"img:{expected_label(data)}"
    assert resp.headers["Content-Type"].startswith("text/plain")
    # The image is stored under the request id, never under its file name
    # (docs/messages.md, "Store keys"), and the result under "<id>.json".
    rid = resp.headers["X-Request-Id"]
    assert (shared.root / "input" / f"{rid}.jpg").read_bytes() == data
    assert not (shared.root / "input" / "img.jpg").exists()
    stored = json.loads((shared.root / "output" / f"{rid}.json").read_text())
    assert stored["id"] == rid and stored["name"] == "img.jpg"
    assert stored["label"] == expected_label(data)
    # The course's view: <stem> -> label.
    assert (shared.root / "output" / "img").read_text() == expected_label(data)


@pytest.mark.parametrize("path", ["/", "/upload"])
@pytest.mark.parametrize("field", ["inputFile", "myfile", "file", "anything"])
def test_every_field_name_and_path(shared, field, path):
    data = png_bytes(13, 7)
    resp = shared.upload(f"f_{field}.png", data, field=field, path=path)
    assert resp.status == 200, resp.text
    assert resp.text == f"f_{field}:{expected_label(data)}"


def test_preferred_field_wins_over_earlier_parts(shared):
    first, chosen = png_bytes(5, 5), png_bytes(30, 3)
    body, ctype = multipart([("comment", None, b"hello"), ("other", "first.png", first),
                             ("inputFile", "chosen.png", chosen), ("myfile", "late.png", first)])
    resp = shared.request("POST", "/", body, {"Content-Type": ctype})
    assert resp.status == 200, resp.text
    assert resp.text == f"chosen:{expected_label(chosen)}"


def test_directory_part_of_a_name_is_dropped(shared):
    data = png_bytes(9, 9)
    resp = shared.upload("C:\\Users\\me\\test_7.png", data)
    assert resp.status == 200, resp.text
    assert resp.text == f"test_7:{expected_label(data)}"


def test_json_answer(shared):
    data = png_bytes(20, 20)
    resp = shared.upload("photo.png", data, headers={"Accept": "application/json"})
    assert resp.status == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = resp.json()
    assert doc["name"] == "photo.png" and doc["label"] == expected_label(data)
    assert re.fullmatch(r"[0-9a-f-]{36}", doc["id"])
    assert doc["top"] == [{"label": expected_label(data), "probability": 0.5}]
    assert doc["worker"] == "fake"
    assert doc["timing"]["processing_ms"] == 1 and doc["timing"]["total_ms"] >= 0


def test_result_is_retrievable_by_id_only(shared):
    data = png_bytes(11, 4)
    resp = shared.upload("kept.png", data)
    assert resp.status == 200
    rid = resp.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", rid)
    got = shared.request("GET", f"/v1/results/{rid}")
    assert got.status == 200 and got.text == f"kept:{expected_label(data)}"
    doc = shared.request("GET", f"/v1/results/{rid}", headers={"Accept": "application/json"}).json()
    assert doc["id"] == rid and doc["stem"] == "kept" and doc["name"] == "kept.png"
    assert doc["label"] == expected_label(data)
    # A guessed name is no way in; an unknown id is 404 until it exists.
    resp = shared.request("GET", "/v1/results/kept")
    assert resp.status == 400
    one_line_reason(resp, r'^not a request id: "kept"')
    other = "00000000-0000-4000-8000-000000000000"
    one_line_reason(shared.request("GET", f"/v1/results/{other}"), rf"^no result for {other} yet$")
    assert shared.request("GET", f"/v1/results/{other}").status == 404
    assert shared.request("GET", "/v1/results/../x").status in (400, 404)


def test_failed_result_is_422_by_id(shared):
    resp = shared.upload("bad_2.png", png_bytes(4, 4))
    assert resp.status == 422
    got = shared.request("GET", f"/v1/results/{resp.headers['X-Request-Id']}")
    assert got.status == 422
    one_line_reason(got, r"^cannot classify bad_2\.png: fake worker refuses bad_2\.png$")


def test_everyday_names_answer_with_their_own_stem(shared):
    for name in ("Screenshot 2026-12-03 at 10.00.00.jpg", "hund-\u00e9t\u00e9.jpg", "a b.png",
                 ".png", "x.tar.gz.png"):
        data = png_bytes(13, 7)
        resp = shared.upload(name, data)
        assert resp.status == 200, (name, resp.text)
        stem = name if name.startswith(".") and name.count(".") == 1 else name.rsplit(".", 1)[0]
        assert resp.text == f"{stem}:{expected_label(data)}"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_same_name_uploads_at_once_each_get_their_own_label(shared):
    """Phones name every photo IMG_0001.jpg: 100 uploads of one name, all
    different images, at once; each answer must be its own image's."""
    images = [png_bytes(5 + i, 3 + i % 11) for i in range(100)]
    assert len({expected_label(d) for d in images}) == 100
    barrier = threading.Barrier(len(images))

    def one(data):
        barrier.wait()
        return data, shared.upload("IMG_0001.jpg", data)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(images)) as pool:
        results = list(pool.map(one, images))
    wrong = [(r.status, r.text) for d, r in results if r.text != f"IMG_0001:{expected_label(d)}"]
    assert wrong == []
    ids = {r.headers["X-Request-Id"] for _, r in results}
    assert len(ids) == 100


def test_worker_error_is_422_with_its_reason(shared):
    resp = shared.upload("bad_1.png", png_bytes(4, 4))
    assert resp.status == 422
    one_line_reason(resp, r"^cannot classify bad_1\.png: fake worker refuses bad_1\.png$")


def test_keep_alive_connection_serves_after_an_upload(shared):
    data = png_bytes(6, 6)
    body, ctype = multipart([("inputFile", "ka.png", data)])
    conn = http.client.HTTPConnection("127.0.0.1", shared.port, timeout=60)
    try:
        for _ in range(2):
            conn.request("POST", "/", body, {"Content-Type": ctype})
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read().decode() == f"ka:{expected_label(data)}"
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() == b"ok\n"
    finally:
        conn.close()


def test_healthz_metrics_status_and_page(shared):
    resp = shared.request("GET", "/healthz")
    assert resp.status == 200 and resp.text == "ok\n"
    shared.upload("m.png", png_bytes(3, 3))
    text = shared.request("GET", "/metrics").text
    for name in ("cloudrec_web_http_responses_total{code=\"200\"}",
                 "cloudrec_web_uploads_total", "cloudrec_web_replies_total",
                 "cloudrec_web_replies_ignored_total{reason=\"duplicate\"}",
                 "cloudrec_web_deadline_expired_total", "cloudrec_web_pending_requests",
                 "cloudrec_web_upload_duration_seconds_bucket{le=\"+Inf\"}",
                 "cloudrec_queue_visible_messages{queue=\"requests\"}",
                 "cloudrec_queue_in_flight_messages{queue=\"requests\"}"):
        assert re.search(rf"^{re.escape(name)} \d", text, re.M), name
    assert shared.metric("cloudrec_web_uploads_answered_total") >= 1
    status = shared.request("GET", "/v1/status").json()
    assert status["pending"] == 0 and status["queue"]["visible"] >= 0
    page = shared.request("GET", "/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'name="inputFile"' in page.text and 'enctype="multipart/form-data"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no external assets
    # Only the page's own script and style run; nothing inline.
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in page.text and " on" + "click=" not in page.text
    assert page.headers["X-Content-Type-Options"] == "nosniff"


# ---- bad requests ----------------------------------------------------------

def _bad_cases():
    img = png_bytes(8, 8)
    return {
        "no file part": (multipart([("comment", None, b"no file here")]), 400,
                         r"^no file part \(use field inputFile\)$"),
        "empty file": (multipart([("inputFile", "empty.png", b"")]), 400, r"^empty file$"),
        "not an image": (multipart([("inputFile", "text.jpg", b"hello, not an image\n" * 20)]),
                         400, r"^not a JPEG or PNG image$"),
        "truncated header": (multipart([("inputFile", "cut.png", img[:20])]), 400,
                             r"^not a valid png image"),
        "control character": (multipart([("inputFile", "a\tb.png", img)]), 400,
                               r'^unsafe file name "a\?b\.png": control character$'),
        "not UTF-8": (multipart([("inputFile", "caf\udce9.png", img)]), 400,
                      r"is not valid UTF-8$"),
        "directory only": (multipart([("inputFile", "pics/", img)]), 400, r"no base name$"),
        "no file name": (multipart([("inputFile", "", img)]), 400,
                         r"^the file part has no file name$"),
        "long name": (multipart([("inputFile", "a" * 300 + ".png", img)]), 400,
                      r"longer than 255 bytes"),
    }


@pytest.mark.parametrize("case", sorted(_bad_cases()))
def test_bad_upload_gets_4xx_with_one_line_reason(shared, case):
    (body, ctype), status, reason = _bad_cases()[case]
    resp = shared.request("POST", "/", body, {"Content-Type": ctype})
    assert resp.status == status, resp.text
    one_line_reason(resp, reason)
    assert shared.request("GET", "/healthz").status == 200


def test_malformed_multipart(shared):
    body, ctype = multipart([("inputFile", "x.png", png_bytes(8, 8))])
    cut = body[: len(body) - 40]  # no closing boundary
    resp = shared.request("POST", "/", cut, {"Content-Type": ctype})
    assert resp.status == 400
    one_line_reason(resp, r"^malformed multipart")
    resp = shared.request("POST", "/", body, {"Content-Type": "multipart/form-data"})
    assert resp.status == 400
    one_line_reason(resp, r"^malformed multipart: no boundary")
    assert shared.request("GET", "/healthz").status == 200


def test_not_multipart_is_415(shared):
    resp = shared.request("POST", "/", b'{"x":1}', {"Content-Type": "application/json"})
    assert resp.status == 415
    one_line_reason(resp, r"multipart/form-data")
    resp = shared.request("POST", "/upload", b"inputFile=x",
                          {"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415


def test_wrong_method_and_unknown_path(shared):
    resp = shared.request("PUT", "/", b"x")
    assert resp.status == 405 and resp.headers["Allow"] == "GET, HEAD, POST"
    one_line_reason(resp, r"^method PUT not allowed on /")
    resp = shared.request("GET", "/upload")
    assert resp.status == 405 and resp.headers["Allow"] == "POST"
    resp = shared.request("POST", "/healthz", b"")
    assert resp.status == 405
    resp = shared.request("GET", "/nope")
    assert resp.status == 404
    one_line_reason(resp, r"^no such path: /nope$")
    assert shared.request("GET", "/healthz").status == 200


def test_errors_are_json_when_asked(shared):
    body, ctype = multipart([("inputFile", "empty.png", b"")])
    resp = shared.request("POST", "/", body, {"Content-Type": ctype,
                                              "Accept": "application/json"})
    assert resp.status == 400
    assert resp.json() == {"error": "empty file", "status": 400}


def test_oversize_body_and_pixels(make_server):
    s = make_server("--max-body-bytes", "2000", "--max-pixels", "100")
    big = png_bytes(200, 200, rows=os.urandom(200 * 601))
    assert len(big) > 2000
    resp = s.upload("big.png", big)
    assert resp.status == 413
    one_line_reason(resp, r"^upload larger than 2000 bytes$")
    # A client that waits for 100 Continue is refused before it sends.
    body, ctype = multipart([("inputFile", "big.png", big)])
    (s.root / "body").write_bytes(body)
    res = run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-H", "Expect: 100-continue",
               "-H", f"Content-Type: {ctype}", "--data-binary", f"@{s.root / 'body'}",
               f"http://127.0.0.1:{s.port}/"])
    assert res.stdout.endswith("\n413") and "upload larger than 2000" in res.stdout, res
    resp = s.upload("wide.png", png_bytes(20, 20))
    assert resp.status == 413
    one_line_reason(resp, r"^image is 20x20 pixels, over the limit of 100$")
    assert s.request("GET", "/healthz").status == 200
    assert s.metric("cloudrec_web_uploads_rejected_total") == 3


def test_chunked_uploads(make_server):
    s = make_server("--max-body-bytes", "4000")
    s.start_worker()
    data = png_bytes(10, 3)
    body, ctype = multipart([("inputFile", "chunked.png", data)])
    chunks = [body[i:i + 100] for i in range(0, len(body), 100)]
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    conn.request("POST", "/", iter(chunks), {"Content-Type": ctype}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read().decode() == f"chunked:{expected_label(data)}"
    conn.close()
    # Without a Content-Length the limit is enforced as the body arrives.
    big, ctype = multipart([("inputFile", "big.png", os.urandom(20000))])
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    conn.request("POST", "/", iter([big[i:i + 1000] for i in range(0, len(big), 1000)]),
                 {"Content-Type": ctype}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 413 and resp.read() == b"upload larger than 4000 bytes\n"
    conn.close()
    assert s.request("GET", "/healthz").status == 200


def _raw_exchange(port: int, raw: bytes) -> bytes:
    """Sends raw bytes, returns all the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        out = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            out += chunk


@pytest.mark.parametrize("lengths", [(5, 7), (5, 5)])
def test_repeated_content_length_is_400(shared, lengths):
    data = png_bytes(6, 6)
    body, ctype = multipart([("inputFile", "cl.png", data)])
    head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
    head += "".join(f"Content-Length: {n}\r\n" for n in lengths)
    got = _raw_exchange(shared.port, head.encode() + b"\r\n" + body)
    assert got.startswith(b"HTTP/1.1 400 "), got[:200]
    assert got.endswith(b"\r\n\r\nmore than one Content-Length header\n"), got[-200:]
    assert got.count(b"HTTP/1.1") == 1
    assert shared.request("GET", "/healthz").status == 200


def test_negative_content_length_is_400(shared):
    got = _raw_exchange(shared.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n"
                                     b"Content-Type: multipart/form-data; boundary=a\r\n\r\nhello")
    assert got.startswith(b"HTTP/1.1 400 "), got[:200]
    assert shared.request("GET", "/healthz").status == 200


def test_slow_clients_cannot_hold_every_connection(make_server):
    """100 clients that send one header byte a second fill a server limited
    to 100 connections: a new upload is told 503 at once instead of
    stalling, and once the header timeout (default 10 s) drops the slow
    clients, the upload goes through."""
    s = make_server("--max-connections", "100")
    s.start_worker()
    slow = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(100)]
    stop = threading.Event()

    def trickle():
        for i in range(60):
            for sock in slow:
                try:
                    sock.send(b"POST / HTTP/1.1\r\nX-Slow: 1"[i:i + 1] or b"x")
                except OSError:
                    pass
            if stop.wait(1):
                return

    t = threading.Thread(target=trickle)
    t.start()
    try:
        # Every slot is taken once the server has accepted the 100 (even
        # /metrics would be told 503 now).
        time.sleep(1)
        data = png_bytes(9, 4)
        first = None
        start = time.monotonic()
        while time.monotonic() - start < 60:
            try:
                resp = s.upload("late.png", data, timeout=30)
            except OSError:
                continue
            first = first or resp.status
            if resp.status == 200:
                break
            assert resp.status == 503 and resp.text.startswith("server busy:"), resp.text
            time.sleep(0.5)
        print(f"\nupload answered {time.monotonic() - start:.1f} s after 100 slow clients")
        assert resp.status == 200 and resp.text == f"late:{expected_label(data)}"
        assert first == 503  # told at once, not stalled
        assert s.metric("cloudrec_web_connection_limit_total") >= 1
        # All of them are dropped within a sweep or two of each other.
        assert wait_for(lambda: s.metric(
            'cloudrec_web_slow_clients_dropped_total{phase="headers"}') == 100, 10)
    finally:
        stop.set()
        t.join()
        for sock in slow:
            sock.close()


def test_slow_body_is_dropped(make_server):
    s = make_server("--header-timeout-ms", "1000", "--min-body-rate", "1000")
    s.start_worker()
    body, ctype = multipart([("inputFile", "trickle.png", png_bytes(40, 40))])
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode())
    dropped = False
    for i in range(len(body)):  # 10 bytes a second, far under 1000
        try:
            sock.send(body[i:i + 10])
            time.sleep(1)
        except OSError:
            dropped = True
            break
        if s.metric('cloudrec_web_slow_clients_dropped_total{phase="body"}') == 1:
            dropped = True
            break
    sock.close()
    assert dropped
    assert s.metric('cloudrec_web_slow_clients_dropped_total{phase="body"}') == 1
    # A normal upload is served as before.
    data = png_bytes(7, 3)
    assert s.upload("fast.png", data).text == f"fast:{expected_label(data)}"


def test_client_gone_while_waiting(make_server):
    s = make_server()
    data = png_bytes(7, 7)
    body, ctype = multipart([("inputFile", "gone.png", data)])
    sock = socket.create_connection(("127.0.0.1", s.port))
    sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    assert wait_for(lambda: s.metric("cloudrec_web_pending_requests") == 1, 10)
    sock.close()
    s.start_worker()
    # The answer has nowhere to go; the server shrugs and keeps serving.
    assert wait_for(lambda: s.metric("cloudrec_web_pending_requests") == 0, 30)
    assert s.metric("cloudrec_web_replies_total") == 1
    # Its result is kept under its id, the one result stored so far.
    results = list(Path(s.output_url[len("file://"):]).glob("*.json"))
    assert len(results) == 1
    rid = results[0].stem
    resp = s.upload("after.png", data)
    assert resp.status == 200 and resp.text == f"after:{expected_label(data)}"
    assert s.request("GET", f"/v1/results/{rid}").text == f"gone:{expected_label(data)}"


def test_curl_upload_prints_stem_and_label(make_server, tmp_path):
    s = make_server()
    s.start_worker()
    img = tmp_path / "img.jpg"
    img.write_bytes(DOG.read_bytes())
    res = run(["curl", "-sS", "-F", f"inputFile=@{img}", f"http://127.0.0.1:{s.port}/"])
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"img:{expected_label(img.read_bytes())}"


def test_label_only_flag(make_server):
    s = make_server("--label-only")
    s.start_worker()
    data = png_bytes(10, 10)
    resp = s.upload("old_client.png", data, field="myfile")
    assert resp.status == 200 and resp.text == expected_label(data)


# ---- deadline, duplicates, concurrency, shutdown ----------------------------

def test_deadline_gives_504_and_the_result_appears_later(make_server):
    s = make_server("--deadline-ms", "1500")
    data = png_bytes(12, 12)
    start = time.monotonic()
    resp = s.upload("slow.png", data)
    waited = time.monotonic() - start
    assert resp.status == 504
    m = one_line_reason(resp, r"^no answer within 1500 ms; the result will be at "
                              r"/v1/results/([0-9a-f-]{36})$")
    rid = m.group(1)
    assert resp.headers["X-Request-Id"] == rid
    assert waited >= 1.4, waited  # a lower bound only: load cannot break it
    assert s.request("GET", f"/v1/results/{rid}").status == 404
    s.start_worker()

    def stored():
        r = s.request("GET", f"/v1/results/{rid}")
        return r if r.status == 200 else None

    got = wait_for(stored, 30, step_s=0.2)
    assert got and got.text == f"slow:{expected_label(data)}"
    # The late reply is deleted and ignored; nothing is answered twice.
    assert wait_for(lambda: s.metric("cloudrec_web_replies_ignored_total{reason=\"duplicate\"}")
                    == 1, 10)
    assert s.metric("cloudrec_web_deadline_expired_total") == 1
    assert s.metric("cloudrec_web_pending_requests") == 0


def test_100_concurrent_uploads_with_duplicate_replies(make_server):
    s = make_server("--threads", "4")
    s.start_worker("--dup", "3")
    s.start_worker("--dup", "3")
    images = {f"img_{i}.png": png_bytes(8 + i, 5 + i % 7) for i in range(100)}
    barrier = threading.Barrier(100)

    def one(name):
        barrier.wait()
        return name, s.upload(name, images[name])

    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(one, images))
    for name, resp in results:
        assert resp.status == 200, (name, resp.status, resp.text)
        assert resp.text == f"{Path(name).stem}:{expected_label(images[name])}"
    assert s.metric("cloudrec_web_replies_total") == 100
    assert s.metric("cloudrec_web_uploads_answered_total") == 100
    assert wait_for(lambda: s.metric(
        "cloudrec_web_replies_ignored_total{reason=\"duplicate\"}") == 200, 30)
    assert s.metric("cloudrec_web_replies_ignored_total{reason=\"unknown\"}") == 0
    assert s.metric("cloudrec_web_pending_requests") == 0
    assert s.metric("cloudrec_web_http_responses_total{code=\"500\"}") == 0


def test_stop_answers_waiting_requests_503(make_server):
    s = make_server("--shutdown-grace-ms", "300")
    box = {}
    t = threading.Thread(target=lambda: box.update(resp=s.upload("waiting.png", png_bytes(4, 9))))
    t.start()
    assert wait_for(lambda: s.metric("cloudrec_web_pending_requests") == 1, 10)
    s.proc.send_signal(signal.SIGTERM)
    t.join(30)
    resp = box["resp"]
    assert resp.status == 503
    one_line_reason(resp, r"^server shutting down; the result will be at /v1/results/[0-9a-f-]{36}$")
    assert s.proc.wait(30) == 0


def test_usage_and_start_errors(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDREC_")}
    res = run([WEB], env=env)
    assert res.returncode == 2 and "--input" in res.stderr
    res = run([WEB, "--port", "70000"], env=env)
    assert res.returncode == 2 and "--port" in res.stderr
    db = tmp_path / "q.db"
    env.update(CLOUDREC_INPUT=f"file://{tmp_path}/in", CLOUDREC_OUTPUT=f"file://{tmp_path}/out",
               CLOUDREC_REQUESTS=f"sqlite://{db}?name=requests",
               CLOUDREC_REPLIES=f"sqlite://{db}?name=replies")
    res = run([WEB, "--bind", "not-an-address"], env=env)
    assert res.returncode == 1 and "not-an-address" in res.stderr
    res = run([WEB, "--requests", "nosuch://x"], env=env)
    assert res.returncode == 1 and "nosuch" in res.stderr


def test_port_in_use_is_reported(make_server):
    s = make_server()
    res = run([WEB, "--bind", "127.0.0.1", "--port", str(s.port), "--input", s.input_url,
               "--output", s.output_url, "--requests", s.requests, "--replies", s.replies])
    assert res.returncode == 1 and f"port {s.port}" in res.stderr, res.stderr


# ---- with the real worker ----------------------------------------------------

def _model_dir():
    for cand in (os.environ.get("CLOUDREC_MODEL_DIR"), "models/tiny-darknet",
                 "../shared/models/tiny-darknet"):
        if cand and (Path(cand) / "tiny.weights").is_file():
            return Path(cand).resolve()
    return None


def test_end_to_end_with_the_real_worker(make_server, tmp_path):
    worker_bin = os.environ.get("CLOUDREC_WORKER")
    if not worker_bin or not _model_dir():
        pytest.skip("needs cloudrec-worker and the model")
    s = make_server()
    images = sorted(DARKNET_DATA.glob("*.jpg"))[:3]
    want = {Path(name).stem: label for name, label in stock_labels(images).items()}
    worker = subprocess.Popen([worker_bin, "--requests", s.requests, "--output", s.output_url,
                               "--log-level", "warn"],
                              stderr=open(tmp_path / "real-worker.log", "wb"))
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            got = list(pool.map(lambda p: s.upload(p.name, p.read_bytes()), images))
        for path, resp in zip(images, got):
            assert resp.status == 200, resp.text
            assert resp.text == f"{path.stem}:{want[path.stem]}"
            rid = resp.headers["X-Request-Id"]
            assert s.request("GET", f"/v1/results/{rid}").text == resp.text
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(120) == 0
