"""Every declared option of cloudrec-web, cloudrec-worker and cloudrec-scaler,
given at once to the real program, which must take them all and act on them.

The options come from each program's `--dump-options` (its declaration in
libcloudrec/core/programs.c). Each test names a value for every declared
option, so an option added without a value here, or a value here for an
option the program no longer declares, fails the suite; so does a program
that refuses an option its declaration lists.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import DARKNET_CFG, DARKNET_DATA, program, run
from service_helpers import Stack, expected_labels, stop, wait_for


def declared(prog) -> dict:
    """--name -> the row --dump-options prints for it; prog is a path or a
    command line (["cloudrec", "up"])."""
    res = run([*([prog] if isinstance(prog, str) else prog), "--dump-options"])
    assert res.returncode == 0, res.stderr
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    assert rows and all(len(r) == 7 for r in rows), res.stdout
    return {r[0]: r for r in rows}


def command(prog: str, values: dict) -> list:
    """prog with each option of values (None: a flag without a value)."""
    args = [prog]
    for name, value in values.items():
        args += [name] if value is None else [name, str(value)]
    return args


def every_option(prog: str, values: dict) -> list:
    """command(), when values covers exactly the declared options."""
    names = set(declared(prog))
    assert set(values) == names, (f"{Path(prog).name}: declared but not given here: "
                                  f"{sorted(names - set(values))}; given but not declared: "
                                  f"{sorted(set(values) - names)}")
    return command(prog, values)


@pytest.fixture
def stack(tmp_path) -> Stack:
    s = Stack(tmp_path / "data")
    s.create_queues()
    return s


def test_help_lists_every_declared_option():
    for env, name in (("CLOUDREC_WEB", "cloudrec-web"), ("CLOUDREC_WORKER", "cloudrec-worker"),
                      ("CLOUDREC_SCALER", "cloudrec-scaler")):
        prog = program(env, "tools", name)
        help_text = run([prog, "--help"]).stdout
        words = " ".join(help_text.split())
        for flag, row in declared(prog).items():
            assert re.search(rf"(?m)^  {re.escape(flag)}\b", help_text), (name, flag)
            if row[2]:
                assert f"default {row[2]}" in words, (name, flag, row[2])


def test_web_takes_every_option(stack, tmp_path):
    prog = program("CLOUDREC_WEB", "tools", "cloudrec-web")
    status = tmp_path / "scaler-status.json"
    args = every_option(prog, {
        "--input": stack.input_url, "--output": stack.output_url,
        "--requests": stack.requests, "--replies": stack.replies,
        "--bind": "127.0.0.1", "--port": 0, "--label-only": None,
        "--scaler-status": status, "--max-body-bytes": 200000, "--max-pixels": 1000000,
        "--deadline-ms": 3000, "--threads": 2, "--max-connections": 50,
        "--idle-timeout-s": 30, "--header-timeout-ms": 5000, "--min-body-rate": 100,
        "--shutdown-grace-ms": 1000, "--log-level": "error"})
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        assert m, line + proc.stderr.read()
        base = f"http://127.0.0.1:{m.group(1)}"
        with urllib.request.urlopen(base + "/healthz", timeout=10) as r:
            assert r.status == 200
        big = urllib.request.Request(base + "/", data=b"x" * 300000, method="POST",
                                     headers={"Content-Type": "multipart/form-data; boundary=b"})
        with pytest.raises(urllib.error.HTTPError) as e:  # --max-body-bytes took effect
            urllib.request.urlopen(big, timeout=10)
        assert e.value.code == 413
    finally:
        rc = stop(proc)
    err = proc.stderr.read()
    assert rc == 0, err
    assert " info " not in err, err  # --log-level error took effect


def test_worker_takes_every_option(stack, tmp_path, model_dir):
    prog = program("CLOUDREC_WORKER", "tools", "cloudrec-worker")
    image = sorted(DARKNET_DATA.glob("*.jpg"))[0]
    shutil.copy(image, stack.input / "test_7.jpg")
    rid = stack.send_request("test_7.jpg")
    state = tmp_path / "worker.state"
    args = every_option(prog, {
        "--requests": stack.requests, "--output": stack.output_url, "--model": model_dir,
        "--cfg": DARKNET_CFG / "tiny.cfg",
        "--names": DARKNET_DATA / "imagenet.shortnames.list", "--engine": "native",
        "--output-format": "pair", "--id": "w-every", "--state-file": state, "--batch": 2,
        "--wait-ms": 200, "--visibility-s": 60, "--idle-exit-s": 1, "--top": 3,
        "--max-image-bytes": 5000000, "--log-level": "error"})
    res = run(args)
    assert res.returncode == 0, res.stderr  # --idle-exit-s ended it
    reply = stack.replies_received(1)[rid]
    want = expected_labels([image])[image.name]
    assert reply["worker"] == "w-every" and len(reply["top"]) == 3 and reply["label"] == want
    assert (stack.output / "test_7").read_text() == f"(test_7, {want})"
    assert state.read_text().split()[0] == "stopping"
    assert " info " not in res.stderr, res.stderr  # --log-level error


def test_scaler_takes_every_option(stack, tmp_path, model_dir):
    prog = program("CLOUDREC_SCALER", "tools", "cloudrec-scaler")
    worker = program("CLOUDREC_WORKER", "tools", "cloudrec-worker")
    status = tmp_path / "status.json"
    local = {
        "--requests": stack.requests, "--fleet": f"local://{tmp_path / 'fleet'}",
        "--min": 1, "--max": 2, "--per-instance": 2, "--scale-in-window-ms": 500,
        "--interval-ms": 100, "--log-every-s": 1, "--kill-after-ms": 5000,
        "--status-file": status, "--worker": worker, "--output": stack.output_url,
        "--model": model_dir, "--log-level": "error"}
    # --print-user-data runs nothing and is for ec2: fleets, which take no
    # --worker: so two runs, which together give every declared option.
    ec2 = {k: v for k, v in local.items() if k != "--worker"}
    ec2.update({"--fleet": "ec2:?ami=ami-12345678&fleet=every&type=t3.micro",
                "--print-user-data": None})
    assert set(local) | set(ec2) == set(declared(prog))

    proc = subprocess.Popen(command(prog, local) + ["--", "--wait-ms", "300"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def one_worker():  # --min 1 keeps one worker with no backlog at all
            try:
                s = json.loads(status.read_text())
            except (OSError, ValueError):
                return None
            return s.get("min") == 1 and s.get("max") == 2 and s.get("interval_ms") == 100 \
                and s["starting"] + s["busy"] + s["idle"] == 1
        assert wait_for(one_worker, 60), status.read_text() if status.exists() else "no status"
    finally:
        rc = stop(proc)
    err = proc.stderr.read()
    assert rc == 0, err
    # --log-level error (the workers' lines, at their own level, share stderr)
    assert 'msg="scaler ready"' not in err and 'msg="worker launched"' not in err, err

    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_REGION": "us-east-1"}
    shown = subprocess.run(command(prog, ec2) + ["--", "--wait-ms", "300"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert f"--output {stack.output_url}" in shown.stdout
    assert f"--requests {stack.requests}" in shown.stdout
    assert "--wait-ms 300" in shown.stdout


def test_docs_tables_follow_the_declarations():
    """docs/*.md option tables are generated from --dump-options."""
    res = run([sys.executable, "scripts/mkoptions.py", "--check", "--build",
               os.environ["CLOUDREC_BUILD_ROOT"]])
    assert res.returncode == 0, res.stderr
    for prog in ("cloudrec-web", "cloudrec-worker", "cloudrec-scaler"):
        assert any(f"<!-- options: {prog} -->" in p.read_text() for p in Path("docs").glob("*.md"))


# Commands documented in prose tables rather than generated ones: each
# declared option must at least be named on its page.
PROSE_PAGES = [(["cloudrec-load"], "docs/load.md"), (["cloudrec", "classify"], "docs/cli.md"),
               (["cloudrec", "model", "path"], "docs/cli.md"),
               (["cloudrec", "model", "fetch"], "docs/cli.md"),
               (["cloudrec", "setup"], "docs/aws-mode.md"),
               (["cloudrec", "s3"], "docs/cli.md"), (["cloudrec", "sqs"], "docs/cli.md"),
               (["cloudrec", "ec2"], "docs/cli.md"), (["cloudrec"], "docs/cli.md")]


def test_prose_pages_name_every_declared_option():
    for (tool, *command), page in PROSE_PAGES:
        prog = program("CLOUDREC_CLI" if tool == "cloudrec" else "CLOUDREC_LOAD", "tools", tool)
        text = Path(page).read_text()
        for flag in declared([prog, *command]):
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), \
                (tool, command, flag, page)
