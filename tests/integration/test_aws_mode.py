"""AWS mode on one moto server (127.0.0.1, free port): `cloudrec setup`, the
s3:// / sqs:// / ec2: backends through the public C API (backend_check), the
100-image test of test_up.py with S3 + SQS and a local fleet (`cloudrec up`
with URLs), and cloudrec-scaler driving an ec2: fleet. Nothing here talks to
real AWS: every endpoint is the local moto server, the keys are dummies."""
import base64
import csv
import json
import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from moto_server import built, run, run_tap
from conftest import free_port
from service_helpers import (assert_clean_log, copies_to_upload, expected_labels, scale_lines,
                             stop, wait_for)

AMI = "ami-12c6146b"
RUN = "am" + secrets.token_hex(3)
UPLOADS = 100
MAX_WORKERS = 6


def cli(env, *args, **kw):
    return run([os.environ["CLOUDREC_CLI"], *args], env, **kw)


def cli_json(env, *args):
    proc = cli(env, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def queue_attrs(env, name) -> dict:
    return cli_json(env, "sqs", "attrs", name)


def run_instance(env, *tags) -> str:
    args = ["ec2", "run", "--image", AMI]
    for t in tags:
        args += ["--tag", t]
    return cli_json(env, *args)["instances"][0]["instance_id"]


def instances(env, *filters) -> list:
    """Live instances matching the --tag/--id filters given."""
    return [i for i in cli_json(env, "ec2", "ls", *filters)["instances"]
            if i["state"] in ("pending", "running")]


def user_data_of(moto, instance_id) -> str:
    xml = moto.raw_query("ec2", "Action=DescribeInstanceAttribute&Attribute=userData"
                                f"&InstanceId={instance_id}&Version=2016-11-15").decode()
    value = re.search(r"<userData>\s*<value>([^<]*)</value>", xml)
    return base64.b64decode(value.group(1)).decode() if value else ""


# ---- (a) cloudrec setup ---------------------------------------------------------------


def test_setup_creates_then_changes_nothing(env):
    names = {"input": f"s3://{RUN}-in", "output": f"s3://{RUN}-out/results",
             "requests": f"sqs://{RUN}-req", "replies": f"sqs://{RUN}-rep",
             "dead-letter": f"sqs://{RUN}-dead"}
    args = ["setup"] + [a for k, v in names.items() for a in (f"--{k}", v)]
    args += ["--visibility-s", "20", "--max-receives", "4"]
    first = cli(env, *args)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 5 and all(l.split()[0] == "created" for l in lines), first.stdout
    attrs = queue_attrs(env, f"{RUN}-req")
    assert attrs["VisibilityTimeout"] == "20"
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{RUN}-dead")
    assert int(redrive["maxReceiveCount"]) == 4
    before = {n: queue_attrs(env, f"{RUN}-{n}") for n in ("req", "rep", "dead")}

    again = cli(env, *args)
    assert again.returncode == 0, again.stderr
    assert [l.split()[0] for l in again.stdout.splitlines()] == ["exists"] * 5, again.stdout
    after = {n: queue_attrs(env, f"{RUN}-{n}") for n in ("req", "rep", "dead")}
    assert after == before  # nothing changed, not even LastModifiedTimestamp
    for bucket in (f"s3://{RUN}-in", f"s3://{RUN}-out"):
        assert cli(env, "s3", "ls", bucket).returncode == 0

    other = cli(env, "setup", "--requests", names["requests"], "--visibility-s", "60")
    assert other.returncode == 1 and "VisibilityTimeout is 20, not 60" in other.stderr
    assert cli(env, "setup").returncode == 2
    bad = cli(env, "setup", "--input", "s3://Bad_Bucket")
    assert bad.returncode == 2 and "bucket names" in bad.stderr


# ---- the backends through the C API -----------------------------------------------------


def test_s3_store_backend(env):
    run_tap([built("tests", "integration", "backend_check"), "store", RUN + "st"], env)


def test_sqs_queue_backend(env):
    run_tap([built("tests", "integration", "backend_check"), "queue", RUN + "qu"], env)


def test_ec2_fleet_backend(env):
    untagged = run_instance(env)
    run_tap([built("tests", "integration", "backend_check"), "fleet", RUN + "fl", AMI, untagged],
            env)
    assert [i["instance_id"] for i in instances(env, "--id", untagged)] == [untagged]


# ---- (b) 100 images through S3 + SQS with a local fleet ----------------------------------


@pytest.fixture(scope="module")
def uploads(tmp_path_factory, sample_images):
    """100 image files (the samples and copies) and their expected labels."""
    return copies_to_upload(tmp_path_factory.mktemp("uploads"), sample_images,
                            expected_labels(sample_images), UPLOADS)


def test_100_uploads_on_s3_and_sqs(env, moto, uploads, tmp_path):
    urls = {"input": f"s3://{RUN}-e2e-in", "output": f"s3://{RUN}-e2e-out/labels",
            "requests": f"sqs://{RUN}-e2e-req", "replies": f"sqs://{RUN}-e2e-rep"}
    flags = [a for k, v in urls.items() for a in (f"--{k}", v)]
    res = cli(env, "setup", *flags, "--dead-letter", f"sqs://{RUN}-e2e-dead")
    assert res.returncode == 0, res.stderr
    port = free_port()
    out, err = tmp_path / "up.out", tmp_path / "up.err"
    with open(out, "w") as o, open(err, "w") as e:
        proc = subprocess.Popen(
            [os.environ["CLOUDREC_CLI"], "up", "--port", str(port), "--data", str(tmp_path / "d"),
             *flags, "--max-workers", str(MAX_WORKERS), "--per-instance", "10",
             "--scale-in-window-ms", "2000", "--interval-ms", "200", "--visibility-s", "10",
             "--stop-timeout-ms", "20000"], stdout=o, stderr=e, env=env)
    try:
        assert wait_for(lambda: "cloudrec is up" in out.read_text() or proc.poll() is not None,
                        timeout_s=120) and proc.poll() is None, err.read_text()
        expect = tmp_path / "expect.csv"
        with open(expect, "w", newline="") as f:
            csv.writer(f).writerows((p.name, label) for p, label in uploads.items())
        load = subprocess.run(
            [os.environ["CLOUDREC_LOAD"], "--url", f"http://127.0.0.1:{port}/", "--images",
             str(next(iter(uploads)).parent), "--num", str(UPLOADS), "--concurrency", "100",
             "--expect", str(expect), "--quiet"], capture_output=True, text=True, timeout=600)
        assert load.returncode == 0, load.stdout + load.stderr + err.read_text()[-3000:]
        assert re.search(r"(?m)^correct\s+100$", load.stdout), load.stdout
        check_output_bucket(env, moto, f"{RUN}-e2e-out", "labels", uploads)
        lines = scale_lines(err.read_text())
        peak = max(l["pending"] + l["running"] for l in lines)
        assert 1 <= peak <= MAX_WORKERS, peak
        assert wait_for(lambda: scale_lines(err.read_text())[-1]["running"] +
                        scale_lines(err.read_text())[-1]["pending"] == 0, timeout_s=60)
    finally:
        code = stop(proc, signal.SIGINT, timeout_s=120)
    assert code == 0, err.read_text()[-3000:]
    assert_clean_log(err.read_text())
    assert queue_attrs(env, f"{RUN}-e2e-dead")["ApproximateNumberOfMessages"] == "0"


def check_output_bucket(env, moto, bucket, prefix, uploads):
    """Every upload's output object (<prefix>/<stem>) holds its label; beside
    them, one result (<prefix>/<id>.json) per upload."""
    # The listing prefix is the folder's name without its "/": with
    # authentication on, moto (5.x) rejects the signature of any request
    # whose query holds a percent-encoded byte such as %2F -- boto3's as
    # well as ours -- and the bucket holds nothing else.
    listed = cli_json(env, "s3", "ls", f"s3://{bucket}/{prefix}")["objects"]
    keys = {o["key"] for o in listed}
    want = {f"{prefix}/{p.stem}": label for p, label in uploads.items()}
    results = {k for k in keys if re.fullmatch(rf"{prefix}/[0-9a-f-]{{36}}\.json", k)}
    assert len(results) >= len(uploads)
    assert keys - results == set(want), sorted((keys - results) ^ set(want))[:5]
    import boto3  # installed with moto; signs the requests moto's S3 wants signed
    s3 = boto3.client("s3", endpoint_url=moto.url, region_name=env["AWS_REGION"],
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    for key, label in want.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode() == label, key


# ---- (c) the scaler with an ec2: fleet -------------------------------------------------


def scaler_cmd(requests, fleet, *extra):
    return [os.environ["CLOUDREC_SCALER"], "--requests", requests, "--fleet", fleet,
            "--output", f"s3://{RUN}-out/results", "--model", "/usr/share/cloudrec/models",
            *extra]


def test_scaler_with_ec2_fleet(env, moto, tmp_path):
    queue = f"{RUN}-ec2q"
    fleet_name = f"{RUN}-f"
    fleet = f"ec2:?ami={AMI}&fleet={fleet_name}&type=t3.micro&idle_exit_s=120"
    assert cli(env, "setup", "--requests", f"sqs://{queue}").returncode == 0
    # Lookalikes the fleet must never touch: same Name, no fleet tag; another fleet.
    untagged = run_instance(env, "Name=app-tier-instance-1")
    other = run_instance(env, "cloudrec:fleet=someone-else")
    res = cli(env, "sqs", "send", queue, *[f"m{i}" for i in range(40)])
    assert res.returncode == 0, res.stderr

    shown = run(scaler_cmd(f"sqs://{queue}", fleet, "--print-user-data"), env)
    assert shown.returncode == 0, shown.stderr
    script = shown.stdout
    assert subprocess.run(["sh", "-n"], input=script, text=True).returncode == 0
    assert f"--requests sqs://{queue} --id ${{CLOUDREC_WORKER_ID}} --idle-exit-s 120" in script

    log = tmp_path / "scaler.err"
    with open(log, "w") as e:
        proc = subprocess.Popen(scaler_cmd(f"sqs://{queue}", fleet, "--max", "3",
                                           "--interval-ms", "200", "--scale-in-window-ms", "1500"),
                                stdout=e, stderr=e, env=env)
    members = ("--tag", f"cloudrec:fleet={fleet_name}")
    try:
        assert wait_for(lambda: len(instances(env, *members)) == 3, timeout_s=60), log.read_text()
        time.sleep(2)  # ten more decisions with a backlog of 40: still at the cap
        live = instances(env, *members)
        assert len(live) == 3
        names = sorted(i["tags"]["Name"] for i in live)
        assert names == [f"app-tier-instance-{n}" for n in (1, 2, 3)]
        for inst in live:
            assert user_data_of(moto, inst["instance_id"]) == script
        lines = scale_lines(log.read_text())
        assert max(l["pending"] + l["running"] for l in lines) == 3
        assert log.read_text().count('msg="instance launched"') == 3

        assert cli(env, "sqs", "purge", queue).returncode == 0
        assert wait_for(lambda: not instances(env, *members), timeout_s=30), log.read_text()
        assert log.read_text().count('msg="instance terminated"') == 3
        assert wait_for(lambda: scale_lines(log.read_text())[-1]["running"] == 0, timeout_s=30)
    finally:
        code = stop(proc, signal.SIGTERM, timeout_s=60)
    assert code == 0, log.read_text()
    for survivor in (untagged, other):
        assert [i["instance_id"] for i in instances(env, "--id", survivor)] == [survivor]
    assert "instances kept (on_exit=keep)" in log.read_text()
    assert_clean_log(log.read_text())


def test_scaler_caps_ec2_at_20(env, tmp_path):
    queue = f"{RUN}-capq"
    assert cli(env, "setup", "--requests", f"sqs://{queue}").returncode == 0
    log = tmp_path / "scaler.err"
    with open(log, "w") as e:
        proc = subprocess.Popen(scaler_cmd(f"sqs://{queue}", f"ec2:?ami={AMI}&fleet={RUN}-cap",
                                           "--max", "50"), stdout=e, stderr=e, env=env)
    try:
        assert wait_for(lambda: "scaler ready" in log.read_text() or proc.poll() is not None,
                        timeout_s=30)
    finally:
        assert stop(proc, signal.SIGTERM) == 0, log.read_text()
    text = log.read_text()
    assert 'msg="max lowered to the fleet\'s cap" max=50 cap=20' in text
    assert re.search(r'msg="scaler ready" .* max=20 ', text), text


def test_ec2_fleet_refusals(env):
    bad = run([os.environ["CLOUDREC_SCALER"], "--requests", "sqs://x", "--fleet", "ec2:",
               "--print-user-data"], env)
    assert bad.returncode == 2 and "no AMI" in bad.stderr
    worker = run([os.environ["CLOUDREC_SCALER"], "--requests", "sqs://x", "--fleet",
                  f"ec2:?ami={AMI}", "--worker", "/bin/true"], env)
    assert worker.returncode == 2 and "worker=" in worker.stderr
