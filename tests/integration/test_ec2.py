"""EC2 through the C library (svc_check, the ec2_list example) and the CLI
(`cloudrec ec2 run|ls|terminate`), against one moto server on 127.0.0.1 for
the whole module (query API, Version 2016-11-15)."""
import base64
import re
import secrets

import pytest

from moto_server import cloudrec, cloudrec_json, built, run, run_tap

AMI = "ami-12c6146b"


@pytest.fixture(scope="module")
def profile(moto):
    """An IAM instance profile for --instance-profile (moto checks that it
    exists); made with a raw IAM request since the library has no IAM API."""
    name = "worker-" + secrets.token_hex(3)
    moto.raw_query("iam", f"Action=CreateInstanceProfile&InstanceProfileName={name}"
                          "&Version=2010-05-08")
    return name


def cli(env, *args, **kw):
    return cloudrec(env, "ec2", *args, **kw)


def cli_json(env, *args):
    return cloudrec_json(env, "ec2", *args)


def user_data_of(moto, instance_id) -> bytes:
    """What EC2 stored as the instance's user data (decoded)."""
    xml = moto.raw_query("ec2", "Action=DescribeInstanceAttribute&Attribute=userData"
                                f"&InstanceId={instance_id}&Version=2016-11-15").decode()
    value = re.search(r"<userData>\s*<value>([^<]*)</value>", xml)
    return base64.b64decode(value.group(1)) if value else b""


def test_c_library(env, profile):
    run_tap([built("tests", "integration", "svc_check"), "ec2", "c" + secrets.token_hex(4),
             profile], env)


def test_example_lists_by_tag(env):
    name = "ex-" + secrets.token_hex(3)
    assert cli(env, "run", "--image", AMI, "--count", "3", "--tag", f"Name={name}").returncode == 0
    proc = run([built("examples", "ec2_list"), f"Name={name}"], env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 4 and lines[-1] == f"3 instance(s) tagged Name={name}"
    assert all(re.match(r"i-[0-9a-f]+ (pending|running) t2\.micro ", l) for l in lines[:3])


def test_run_with_every_option(env, moto, profile, tmp_path):
    fleet = "f-" + secrets.token_hex(3)
    script = tmp_path / "user-data.sh"
    script.write_bytes(b"#!/bin/sh\ncloudrec-worker --queue sqs://requests # \xe2\x9c\x93\n")
    doc = cli_json(env, "run", "--image", AMI, "--type", "t3.micro", "--count", "2",
                   "--tag", "Name=app-tier-instance-1", "--tag", f"fleet={fleet}",
                   "--user-data", script, "--key", "worker-key", "--security-group", "default",
                   "--shutdown-terminates", "--client-token", secrets.token_hex(8))
    first, second = doc["instances"]
    for inst in (first, second):
        assert inst["state"] == "pending" and inst["instance_type"] == "t3.micro"
        assert inst["image_id"] == AMI and inst["key_name"] == "worker-key"
        assert inst["tags"] == {"Name": "app-tier-instance-1", "fleet": fleet}
        assert inst["subnet_id"] and len(inst["security_group_ids"]) == 1
        assert user_data_of(moto, inst["instance_id"]) == script.read_bytes()

    other = cli_json(env, "run", "--image", AMI, "--min", "1", "--max", "1",
                     "--subnet", first["subnet_id"],
                     "--security-group-id", first["security_group_ids"][0],
                     "--instance-profile", profile, "--tag", f"fleet={fleet}",
                     "--user-data-text", "echo hi")["instances"][0]
    assert other["subnet_id"] == first["subnet_id"] and other["instance_type"] == "t2.micro"
    assert other["security_group_ids"] == first["security_group_ids"]
    assert other["iam_instance_profile_arn"].endswith("/" + profile)
    assert user_data_of(moto, other["instance_id"]) == b"echo hi"


def test_ls_filters_and_ids(env):
    fleet = "f-" + secrets.token_hex(3)
    ids = [i["instance_id"] for i in cli_json(env, "run", "--image", AMI, "--count", "2",
                                              "--tag", f"fleet={fleet}",
                                              "--tag", f"Name={fleet}-a")["instances"]]
    def listed(*flags):
        return sorted(i["instance_id"] for i in cli_json(env, "ls", *flags)["instances"])
    assert listed("--tag", f"fleet={fleet}") == sorted(ids)
    assert listed("--filter", f"tag:Name={fleet}-a,nobody") == sorted(ids)
    assert set(ids) <= set(listed("--tag-key", "fleet"))
    assert listed("--tag", f"fleet={fleet}", "--state", "pending,running") == sorted(ids)
    assert listed("--tag", f"fleet={fleet}", "--state", "stopped") == []
    assert listed("--id", ids[0]) == [ids[0]]
    assert listed(ids[1]) == [ids[1]], "ids may be positional too"

    table = cli(env, "ls", "--tag", f"fleet={fleet}").stdout.splitlines()
    assert table[0].split()[:3] == ["INSTANCE", "ID", "STATE"] and len(table) == 3
    assert all(line.split()[-1] == f"{fleet}-a" for line in table[1:])


def test_ls_pages(env):
    fleet = "p-" + secrets.token_hex(3)
    for _ in range(6):  # six reservations: moto pages by reservation
        assert cli(env, "run", "--image", AMI, "--tag", f"fleet={fleet}").returncode == 0
    every = cli_json(env, "ls", "--tag", f"fleet={fleet}", "--max-results", "5")
    assert len(every["instances"]) == 6 and every["next_token"] is None
    first = cli_json(env, "ls", "--tag", f"fleet={fleet}", "--max-results", "5", "--one-page")
    assert len(first["instances"]) == 5 and first["next_token"]
    rest = cli_json(env, "ls", "--tag", f"fleet={fleet}", "--max-results", "5", "--one-page",
                    "--token", first["next_token"])
    assert len(rest["instances"]) == 1 and rest["next_token"] is None
    ids = {i["instance_id"] for i in first["instances"] + rest["instances"]}
    assert len(ids) == 6
    proc = cli(env, "ls", "--tag", f"fleet={fleet}", "--max-results", "5", "--one-page")
    assert "--token " in proc.stderr and len(proc.stdout.splitlines()) == 6


def test_terminate(env):
    fleet = "t-" + secrets.token_hex(3)
    ids = [i["instance_id"] for i in cli_json(env, "run", "--image", AMI, "--count", "2",
                                              "--tag", f"fleet={fleet}")["instances"]]
    doc = cli_json(env, "terminate", *ids)
    assert sorted(c["instance_id"] for c in doc["terminated"]) == sorted(ids)
    assert all(c["current_state"] in ("shutting-down", "terminated") for c in doc["terminated"])
    gone = cli_json(env, "ls", "--tag", f"fleet={fleet}", "--state", "terminated")
    assert sorted(i["instance_id"] for i in gone["instances"]) == sorted(ids)
    proc = cli(env, "terminate", ids[0])
    assert proc.returncode == 0 and proc.stdout.startswith(ids[0] + "  ")


def test_errors(env):
    proc = cli(env, "terminate", "i-0000000000000000f")
    assert proc.returncode == 1 and "InvalidInstanceID.NotFound" in proc.stderr
    assert "[ERR_NOT_FOUND]" in proc.stderr and len(proc.stderr.splitlines()) == 1
    proc = cli(env, "ls", "--id", "i-0000000000000000f")
    assert proc.returncode == 1 and "[ERR_NOT_FOUND]" in proc.stderr
    proc = cli(env, "run", "--image", AMI, "--security-group-id", "sg-00000000000000bad")
    assert proc.returncode == 1 and "[ERR_NOT_FOUND]" in proc.stderr
    proc = cli(env, "run", "--image", AMI, "--instance-profile", "no-such-profile")
    assert proc.returncode == 1, proc.stderr


@pytest.mark.parametrize("args", [
    (), ("bogus",), ("run",), ("run", "--type", "t3.micro"), ("run", "--image", AMI, "extra"),
    ("run", "--image", AMI, "--count", "2", "--min", "1"), ("run", "--image", AMI, "--count", "0"),
    ("run", "--image", AMI, "--tag", "novalue"), ("ls", "--max-results", "3"),
    ("ls", "--filter", "name-only"), ("ls", "--id", "i-1", "--max-results", "5"),
    ("terminate",), ("run", "--image", AMI, "--user-data-text", "a", "--user-data", "/x"),
])
def test_usage_errors_exit_2(env, args):
    proc = cli(env, *args)
    assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
    assert proc.stderr


def test_help(env):
    proc = cli(env, "--help")
    assert proc.returncode == 0 and "cloudrec ec2 run --image AMI" in proc.stdout
