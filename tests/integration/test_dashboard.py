"""The dashboard in a real browser: `cloudrec up` on a free port, headless
Chromium driven by Selenium loads the page, uploads images through the page's
own file input, and the test reads the labels the page shows and the charts
it draws. A screenshot is left in the build directory
(tests/integration/dashboard.png)."""
import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port
from service_helpers import assert_clean_log, build_path, stop, wait_for

# selenium==4.25.0 from PyPI, chromium and chromium-driver from Debian
# (scripts/dev.sh installs all three).
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By

SAMPLES = {"dog.jpg": "malamute", "eagle.jpg": "bald eagle"}
COPIES = 8  # of each sample: 16 uploads, sent by the page 6 at a time
UP_FLAGS = ["--max-workers", "3", "--per-instance", "4", "--scale-in-window-ms", "3000",
            "--interval-ms", "250", "--stop-timeout-ms", "20000"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def service(cli, model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    out, err = root / "up.out", root / "up.err"
    with open(out, "w") as o, open(err, "w") as e:
        proc = subprocess.Popen([cli, "up", "--port", str(port), "--data", str(root / "data"),
                                 "--model", str(model_dir), *UP_FLAGS], stdout=o, stderr=e)
    up = wait_for(lambda: "cloudrec is up" in out.read_text() or proc.poll() is not None, 120)
    assert up and proc.poll() is None, err.read_text()
    yield {"url": f"http://127.0.0.1:{port}/", "root": root, "log": err}
    assert stop(proc) == 0, err.read_text()[-3000:]
    assert_clean_log(err.read_text())


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), \
        "apt-get install chromium chromium-driver (scripts/dev.sh does)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--disable-extensions"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=DriverService(CHROMEDRIVER))
    yield driver
    driver.quit()


def charts(driver) -> dict:
    """chart id -> {"max": largest value drawn, "points": {series: points}}."""
    return driver.execute_script("""
        const out = {};
        for (const svg of document.querySelectorAll('svg.chart')) {
          const points = {};
          for (const p of svg.querySelectorAll('[data-series]'))
            points[p.dataset.series] = (points[p.dataset.series] || '') +
                (p.getAttribute('points') || p.getAttribute('cx') + ',' + p.getAttribute('cy')) + ' ';
          out[svg.id] = {max: Number(svg.dataset.max || -1), points,
                         launches: svg.querySelectorAll('polygon[data-action=launch]').length,
                         stops: svg.querySelectorAll('polygon[data-action=stop]').length};
        }
        return out;""")


def images(root: Path) -> list:
    """COPIES of each sample under distinct names: dog-01.jpg, eagle-01.jpg, ..."""
    folder = root / "burst"
    folder.mkdir(exist_ok=True)
    paths = []
    for name in SAMPLES:
        stem, ext = name.rsplit(".", 1)
        for i in range(COPIES):
            p = folder / f"{stem}-{i:02d}.{ext}"
            shutil.copyfile(Path("/usr/share/darknet/data") / name, p)
            paths.append(p)
    return paths


def expected(name: str) -> str:
    return SAMPLES[name.split("-")[0] + ".jpg"]


def test_dashboard_upload_and_charts(service, browser):
    browser.get(service["url"])
    assert browser.title == "cloudrec"
    # The charts are drawn from /v1/stats once the first polls are back.
    assert wait_for(lambda: int(browser.execute_script("return document.body.dataset.polls || 0")) >= 2, 30)
    before = charts(browser)
    assert len(before) >= 2
    assert before["chart-rate"]["max"] == 0, before  # nothing answered yet

    files = images(service["root"])
    browser.find_element(By.ID, "files").send_keys("\n".join(map(str, files)))

    def rows():
        return browser.execute_script("""
            return Array.from(document.querySelectorAll('#results li')).map(li => [
              li.className, li.querySelector('.name').textContent,
              li.querySelector('.label').textContent]);""")

    assert wait_for(lambda: len(rows()) == len(files) and
                    all(c in ("done", "failed") for c, _, _ in rows()), 180, 0.5), rows()
    shown = {name: (cls, label) for cls, name, label in rows()}
    assert shown == {p.name: ("done", expected(p.name)) for p in files}

    # After the burst: answers per second, backlog, latency and workers have
    # been above zero, the fleet has shrunk back to nothing, and the scaler's
    # launches and stops are marked; the drawn lines changed.
    def burst_drawn():
        c = charts(browser)
        workers_now = browser.find_element(By.ID, "now-workers").text
        # (Not the backlog: sampled once a second, it may never catch one
        # with a classifier this fast.)
        return c if (c["chart-rate"]["max"] > 0 and c["chart-workers"]["max"] >= 1 and
                     c["chart-latency"]["max"] > 0 and
                     c["chart-workers"]["launches"] >= 1 and c["chart-workers"]["stops"] >= 1 and
                     workers_now == "0") else None

    after = wait_for(burst_drawn, 60, 0.5)
    assert after, charts(browser)
    assert after["chart-rate"]["points"]["answers_per_s"] != before["chart-rate"]["points"]["answers_per_s"]
    assert after["chart-workers"]["points"]["busy"] != before["chart-workers"]["points"]["busy"]
    for svg in browser.find_elements(By.CSS_SELECTOR, "svg.chart"):
        # Lines, or dots where a series has lone samples.
        assert svg.find_elements(By.CSS_SELECTOR, "[data-series]"), svg.get_attribute("id")

    # The endpoint behind the charts agrees with what the page showed.
    with urllib.request.urlopen(service["url"] + "v1/stats") as r:
        stats = json.load(r)
    assert stats["answered"] >= len(files)
    assert max(v for v in stats["series"]["answers_per_s"] if v is not None) > 0
    assert any(d["action"] == "launch" for d in stats["decisions"])

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    shot = Path(build_path("tests", "integration", "dashboard.png"))
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10000


def test_load_report_shows_the_fleet(service, tmp_path):
    """cloudrec-load --report against the real service draws the burst and
    the workers /v1/stats showed meanwhile."""
    import xml.etree.ElementTree as ET
    from test_load import answered_in
    burst = tmp_path / "burst"
    burst.mkdir()
    for name, label in SAMPLES.items():
        shutil.copyfile(Path("/usr/share/darknet/data") / name, burst / name)
    expect = tmp_path / "expect.csv"
    expect.write_text("".join(f"{n},{l}\n" for n, l in SAMPLES.items()))
    out = Path(build_path("tests", "integration", "load-report.svg"))
    res = subprocess.run([os.environ["CLOUDREC_LOAD"], "--url", service["url"], "--images",
                          str(burst), "--num", "24", "--concurrency", "24", "--expect",
                          str(expect), "--quiet", "--progress", "--report", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "correct     24" in res.stdout
    root = ET.parse(out).getroot()
    series = {e.get("data-series"): e for e in root.iter() if e.get("data-series")}
    assert int(series["latency_ms"].get("data-count")) == 24
    assert answered_in(out) == 24
    workers = [float(v) for v in series["workers"].get("data-values").split(",")]
    desired = [float(v) for v in series["desired"].get("data-values").split(",")]
    # The burst's workers show; the desired count is known (the scaler may
    # already want 0 while they idle through the scale-in window).
    assert max(workers) >= 1 and min(desired) >= 0, (workers, desired)
    assert "none" not in series  # the fleet was known
