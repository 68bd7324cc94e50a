"""GET /v1/stats of `cloudrec-web`: the once-a-second samples behind the
dashboard, with the fleet read from a scaler status file the test writes
(the format of libcloudrec/pipeline/scaler_status.h) and the worker played by
fake_worker."""
import concurrent.futures
import json
import time
from pathlib import Path

from conftest import png_bytes
from test_web import Server, expected_label, wait_for

SERIES = ("time_ms", "visible", "in_flight", "pending", "starting", "busy", "idle", "stopping",
          "desired", "answers_per_s", "p50_ms", "p95_ms")


def write_status(path: Path, age_ms: int = 0, decisions=True, **counts):
    """A status file as the scaler writes it; its two decisions are from the
    last 200 ms (the web tier shows those since its oldest sample)."""
    now = int(time.time() * 1000) - age_ms
    doc = {"v": 1, "time_ms": now, "interval_ms": 1000, "visible": 0, "in_flight": 0,
           "starting": 1, "busy": 2, "idle": 3, "stopping": 0, "desired": 6, "min": 0, "max": 8,
           "decisions": [
               {"time_ms": now - 200, "action": "launch", "count": 6, "desired": 6,
                "backlog": 6, "reason": "first work: backlog 6 needs 6"},
               {"time_ms": now - 100, "action": "stop", "count": 1, "desired": 5,
                "backlog": 0, "reason": "scale in"}] if decisions else []}
    doc.update(counts)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    tmp.rename(path)


def stats(server) -> dict:
    r = server.request("GET", "/v1/stats")
    assert r.status == 200 and r.headers["Content-Type"] == "application/json", r.text
    return r.json()


def last(doc, key):
    values = doc["series"][key]
    return values[-1] if values else "none yet"


def test_stats_series_fleet_and_answers(tmp_path):
    status = tmp_path / "scaler-status.json"
    write_status(status, decisions=False)
    server = Server(tmp_path / "stack", "--scaler-status", str(status))
    server.start_worker()
    try:
        # Two samples: the oldest is over a second old, so decisions from the
        # last 200 ms are after it.
        assert wait_for(lambda: len(stats(server)["series"]["time_ms"]) >= 2, 5)
        write_status(status)
        images = [(f"img{i}.png", png_bytes(8 + i, 8)) for i in range(5)]

        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda item: server.upload(*item).text.strip(), images))
        assert answers == [f"img{i}:{expected_label(d)}" for i, (_, d) in enumerate(images)]

        # The next samples hold the answers and the fleet of the status file.
        doc = wait_for(lambda: (lambda d: d if last(d, "busy") == 2 and
                                sum(d["series"]["answers_per_s"]) > 0 else None)(stats(server)),
                       10)
        assert doc, stats(server)
        assert doc["scaler"] is True and doc["answered"] == 5 and doc["uploads"] == 5
        assert (doc["min"], doc["max"]) == (0, 8)
        assert [last(doc, k) for k in ("starting", "busy", "idle", "stopping", "desired")] == \
            [1, 2, 3, 0, 6]
        assert [(d["action"], d["count"], d["desired"]) for d in doc["decisions"]] == \
            [("launch", 6, 6), ("stop", 1, 5)]
        n = len(doc["series"]["time_ms"])
        assert all(len(doc["series"][k]) == n for k in SERIES) and 1 <= n <= 300
        times = doc["series"]["time_ms"]
        assert times == sorted(set(times))
        assert any(v is not None and v >= 0 for v in doc["series"]["p50_ms"])
        assert last(doc, "visible") == 0 and last(doc, "pending") == 0

        # A status file the scaler stopped rewriting: the fleet becomes unknown.
        write_status(status, age_ms=60000)
        assert wait_for(lambda: last(stats(server), "busy") is None, 10)
        # So does one that is not a status file; the server goes on.
        status.write_text("{not json")
        write_status(status, decisions=False, busy=4)
        assert wait_for(lambda: last(stats(server), "busy") == 4, 10)
        status.write_text('{"v":2}')
        assert wait_for(lambda: last(stats(server), "busy") is None, 10)
        # A decision is reported once, however often the file repeats it.
        assert len(stats(server)["decisions"]) == 2
    finally:
        server.stop()


def test_stats_without_a_scaler(tmp_path):
    server = Server(tmp_path / "stack")
    try:
        doc = wait_for(lambda: (lambda d: d if d["series"]["time_ms"] else None)(stats(server)), 5)
        assert doc["scaler"] is False and doc["decisions"] == []
        for key in ("starting", "busy", "idle", "stopping", "desired"):
            assert set(doc["series"][key]) == {None}
        assert last(doc, "visible") == 0 and last(doc, "answers_per_s") == 0
        assert server.request("POST", "/v1/stats").status == 405
    finally:
        server.stop()
