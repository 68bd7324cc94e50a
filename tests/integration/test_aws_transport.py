"""The AWS transport and credentials chain against fakes on 127.0.0.1.

tests/integration/aws_probe (built next to this file's outputs) drives
cr__aws_send and the credentials chain and prints JSON lines. The fakes are
in aws_fakes.py: an IMDSv2 metadata server that requires tokens and issues
short-lived role credentials, and a scripted service endpoint that checks
every SigV4 signature. Nothing here talks to real AWS.
"""
import hashlib
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from aws_fakes import ImdsServer, ServiceServer, ec2_error, parse_lines, s3_error, sqs_error
from conftest import free_port

STATIC_KEY = "AKIDSTATICEXAMPLE"
STATIC_SECRET = "static-secret-wJalrXUtnFEMI-K7MDENG"


@pytest.fixture(scope="session")
def probe() -> str:
    path = Path(os.environ["CLOUDREC_BUILD_ROOT"]) / "tests" / "integration" / "aws_probe"
    assert os.access(path, os.X_OK), f"{path} must be built"
    return str(path)


@pytest.fixture
def base_env(tmp_path):
    """An environment with no AWS settings but a region and an empty home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(tmp_path), AWS_REGION="us-east-1",
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_SERVICE_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    return env


@pytest.fixture
def static_env(base_env):
    env = dict(base_env, AWS_ACCESS_KEY_ID=STATIC_KEY, AWS_SECRET_ACCESS_KEY=STATIC_SECRET,
               AWS_EC2_METADATA_DISABLED="true")
    return env


@pytest.fixture
def imds():
    servers = []

    def start(**kw):
        servers.append(ImdsServer(**kw))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


@pytest.fixture
def service():
    servers = []

    def start(**kw):
        servers.append(ServiceServer(**kw))
        servers[-1].static_secrets[STATIC_KEY] = STATIC_SECRET
        return servers[-1]
    yield start
    for s in servers:
        s.close()


def run_probe(probe, env, *args, timeout=120):
    proc = subprocess.run([probe, "-v", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode in (0, 1), proc.stderr
    return parse_lines(proc.stdout), proc


def assert_no_secrets(proc, *secrets_):
    for s in secrets_:
        assert s not in proc.stdout, "a secret reached stdout"
        assert s not in proc.stderr, "a secret reached the log"


# ---- instance metadata --------------------------------------------------------


def test_fake_imds_requires_a_token(imds):
    """The fake is strict the way IMDSv2 is: no token, no answer."""
    srv = imds()
    url = srv.url + "/latest/meta-data/iam/security-credentials/"
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(url, timeout=5)
    assert exc.value.code == 401
    req = urllib.request.Request(url, headers={"X-aws-ec2-metadata-token": "made-up"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=5)
    assert exc.value.code == 401


def test_imds_credentials_fetched_with_token_and_refreshed(probe, base_env, imds, service):
    """Credentials come from IMDSv2 with a token on every GET, are used to sign,
    and are fetched again (with a new token once the old one's TTL has run
    out) when they come within the refresh margin of their expiry."""
    md = imds(lifetime_s=6)
    svc = service(secrets_source=md.secrets_by_key)
    env = dict(base_env, AWS_EC2_METADATA_SERVICE_ENDPOINT=md.url, AWS_ENDPOINT_URL=svc.url)
    lines, proc = run_probe(probe, env, "--margin", "1", "--imds-ttl", "2", "--repeat", "3",
                            "--pause-ms", "2800", "--body", "Action=ListQueues",
                            "send", "sqs", "POST", "/")
    assert [l["status"] for l in lines] == ["OK"] * 3, lines
    assert all(l["source"] == "imds:test-role" for l in lines)

    puts = [r for r in md.requests if r["method"] == "PUT"]
    gets = [r for r in md.requests if r["method"] == "GET"]
    assert md.requests[0]["method"] == "PUT", "a token is asked for before any GET"
    assert puts and gets, md.requests
    assert all(p["ttl"] == "2" for p in puts), "the TTL asked for is the one configured"
    assert all(g["token_ok"] for g in gets), "every GET carried a valid token"
    assert len(puts) == 2, "the 2 s token had lapsed by the refresh, so a new one was asked for"
    assert len(md.issued) == 2, "credentials were fetched once, then refreshed once"

    keys = [r["key_id"] for r in svc.requests]
    tokens = [r["token"] for r in svc.requests]
    assert keys == [md.issued[0][0], md.issued[0][0], md.issued[1][0]]
    assert tokens == [md.issued[0][2], md.issued[0][2], md.issued[1][2]]
    assert svc.requests and all(r["signature_ok"] for r in svc.requests), "signed with the matching secret"
    assert "credentials fetched" in proc.stderr
    assert_no_secrets(proc, *[c[1] for c in md.issued], *[c[2] for c in md.issued])


def test_imds_token_rejected_by_server_is_renewed(probe, base_env, imds, service):
    """The server expires tokens after 1 s whatever was asked: the next GET
    gets a 401, and the client asks for a new token and carries on."""
    md = imds(lifetime_s=3, server_token_cap_s=1)
    svc = service(secrets_source=md.secrets_by_key)
    env = dict(base_env, AWS_EC2_METADATA_SERVICE_ENDPOINT=md.url, AWS_ENDPOINT_URL=svc.url)
    lines, proc = run_probe(probe, env, "--margin", "1", "--repeat", "2", "--pause-ms", "2500",
                            "send", "sqs", "POST", "/")
    assert [l["status"] for l in lines] == ["OK", "OK"], lines
    gets = [r for r in md.requests if r["method"] == "GET"]
    assert sum(1 for g in gets if not g["token_ok"]) == 1, "one GET met an expired token"
    assert gets and all(g["had_token"] for g in gets), "no GET was ever sent without a token"
    assert len([r for r in md.requests if r["method"] == "PUT"]) == 2
    assert [r["key_id"] for r in svc.requests] == [md.issued[0][0], md.issued[1][0]]
    assert svc.requests and all(r["signature_ok"] for r in svc.requests)


def test_whoami_reports_source_not_secret(probe, base_env, imds):
    md = imds()
    env = dict(base_env, AWS_EC2_METADATA_SERVICE_ENDPOINT=md.url)
    lines, proc = run_probe(probe, env, "whoami")
    assert lines[0]["source"] == "imds:test-role"
    key, secret, token = md.issued[0]
    assert lines[0]["access_key_id"] == key
    assert lines[0]["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert lines[0]["expiration_s"] > 0
    assert_no_secrets(proc, secret, token)


def test_imds_disabled_is_never_asked(probe, base_env, imds):
    md = imds()
    env = dict(base_env, AWS_EC2_METADATA_SERVICE_ENDPOINT=md.url,
               AWS_EC2_METADATA_DISABLED="true")
    lines, proc = run_probe(probe, env, "whoami")
    assert proc.returncode == 1
    assert lines[0]["event"] == "open" and lines[0]["status"] == "ERR_AUTH"
    assert md.requests == []


def test_imds_unreachable_is_an_auth_error(probe, base_env):
    lines, proc = run_probe(probe, base_env, "whoami")
    assert proc.returncode == 1
    assert lines[0]["status"] == "ERR_AUTH"
    assert "instance metadata" in lines[0]["message"]


def test_env_and_profile_sources(probe, static_env, tmp_path):
    lines, proc = run_probe(probe, static_env, "whoami")
    assert lines[0]["source"] == "environment"
    assert lines[0]["access_key_id"] == STATIC_KEY
    assert_no_secrets(proc, STATIC_SECRET)

    creds = tmp_path / "creds"
    creds.write_text("[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = devsecret\n")
    env = dict(static_env, AWS_SHARED_CREDENTIALS_FILE=str(creds), AWS_PROFILE="dev")
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    lines, proc = run_probe(probe, env, "whoami")
    assert lines[0]["source"] == "profile:dev"
    assert lines[0]["access_key_id"] == "AKIDDEV"
    assert_no_secrets(proc, "devsecret")


# ---- retries ------------------------------------------------------------------


def _gaps(reqs):
    return [b["t"] - a["t"] for a, b in zip(reqs, reqs[1:])]


@pytest.mark.parametrize("answer", [
    (503, s3_error("SlowDown"), {}),
    (400, sqs_error("Throttling"), {}),
    (400, sqs_error("RequestThrottled"), {}),
    (503, ec2_error("RequestLimitExceeded"), {}),
    (400, sqs_error("TooManyRequestsException"), {}),
    (429, "", {}),
    (500, s3_error("InternalError"), {}),
    (503, "<html>unavailable</html>", {}),
])
def test_retried_until_success_with_growing_backoff(probe, static_env, service, answer):
    svc = service(script=[answer] * 3)
    env = dict(static_env, AWS_ENDPOINT_URL=svc.url)
    lines, proc = run_probe(probe, env, "--attempts", "5", "--base-ms", "80", "--random", "max",
                            "send", "sqs", "POST", "/")
    out = lines[0]
    assert out["status"] == "OK", out
    assert out["attempts"] == 4 and len(svc.requests) == 4
    assert out["delays_ms"] == [80, 160, 320], "capped exponential backoff (jitter at max)"
    gaps = _gaps(svc.requests)
    assert gaps[0] >= 0.08 and gaps[1] >= 0.16 and gaps[2] >= 0.32
    assert gaps[0] < gaps[1] < gaps[2], f"the waits seen by the server grew: {gaps}"
    assert svc.requests and all(r["signature_ok"] for r in svc.requests), "each try is signed afresh"
    assert proc.stderr.count("msg=retrying") == 3


def test_backoff_is_capped_and_jittered(probe, static_env, service):
    svc = service(script=[(503, s3_error("SlowDown"), {})] * 6)
    env = dict(static_env, AWS_ENDPOINT_URL=svc.url)
    lines, _ = run_probe(probe, env, "--attempts", "7", "--base-ms", "10", "--max-ms", "40",
                         "--random", "seed:7", "send", "s3", "GET", "/k", "--bucket", "b")
    delays = lines[0]["delays_ms"]
    assert lines[0]["status"] == "OK" and len(delays) == 6
    tops = [10, 20, 40, 40, 40, 40]
    assert all(0 <= d <= t for d, t in zip(delays, tops)), delays
    again, _ = run_probe(probe, dict(env, AWS_ENDPOINT_URL=service(
        script=[(503, s3_error("SlowDown"), {})] * 6).url), "--attempts", "7", "--base-ms", "10",
        "--max-ms", "40", "--random", "seed:7", "send", "s3", "GET", "/k", "--bucket", "b")
    assert again[0]["delays_ms"] == delays, "same seed, same schedule"


def test_throttling_that_never_ends_gives_throttled(probe, static_env, service):
    svc = service(default=(400, sqs_error("Throttling", "Rate exceeded"), {}))
    env = dict(static_env, AWS_ENDPOINT_URL=svc.url)
    lines, proc = run_probe(probe, env, "--attempts", "3", "--base-ms", "5", "send", "sqs",
                            "POST", "/")
    out = lines[0]
    assert out["status"] == "ERR_THROTTLED"
    assert out["attempts"] == 3 and len(svc.requests) == 3 and len(out["delays_ms"]) == 2
    assert out["aws_code"] == "Throttling" and out["http_status"] == 400
    assert "Rate exceeded" in out["message"]


def test_5xx_that_never_ends_gives_aws_error(probe, static_env, service):
    svc = service(default=(503, "", {}))
    env = dict(static_env, AWS_ENDPOINT_URL=svc.url)
    lines, _ = run_probe(probe, env, "--base-ms", "5", "send", "ec2", "POST", "/")
    assert lines[0]["status"] == "ERR_AWS" and lines[0]["attempts"] == 3
    assert len(svc.requests) == 3, "three tries by default"


@pytest.mark.parametrize("answer,status,code", [
    ((403, s3_error("AccessDenied", "Access Denied"), {}), "ERR_AUTH", "AccessDenied"),
    ((403, s3_error("SignatureDoesNotMatch"), {}), "ERR_AUTH", "SignatureDoesNotMatch"),
    ((403, "", {}), "ERR_AUTH", ""),
    ((404, s3_error("NoSuchKey"), {}), "ERR_NOT_FOUND", "NoSuchKey"),
    ((400, sqs_error("AWS.SimpleQueueService.NonExistentQueue"), {}), "ERR_NOT_FOUND",
     "AWS.SimpleQueueService.NonExistentQueue"),
    ((400, ec2_error("InvalidInstanceID.NotFound"), {}), "ERR_NOT_FOUND",
     "InvalidInstanceID.NotFound"),
    ((400, ec2_error("InvalidParameterValue"), {}), "ERR_AWS", "InvalidParameterValue"),
    ((409, s3_error("BucketAlreadyOwnedByYou"), {}), "ERR_EXISTS", "BucketAlreadyOwnedByYou"),
])
def test_client_errors_are_tried_once(probe, static_env, service, answer, status, code):
    svc = service(default=answer)
    env = dict(static_env, AWS_ENDPOINT_URL=svc.url)
    lines, proc = run_probe(probe, env, "--attempts", "5", "--base-ms", "5", "send", "s3", "GET",
                            "/k", "--bucket", "b")
    out = lines[0]
    assert len(svc.requests) == 1, "tried exactly once"
    assert out["attempts"] == 1 and out["delays_ms"] == []
    assert out["status"] == status and out["aws_code"] == code
    assert out["http_status"] == answer[0]
    if code:
        assert out["error_request_id"] == f"rid-{code}" or out["error_request_id"].startswith("rid")
    assert "s3 GET /b/k" in out["message"]
    assert_no_secrets(proc, STATIC_SECRET)


def test_connection_refused_is_retried_then_network_error(probe, static_env):
    env = dict(static_env, AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    lines, _ = run_probe(probe, env, "--attempts", "3", "--base-ms", "5", "send", "sqs", "POST",
                         "/")
    assert lines[0]["status"] == "ERR_NETWORK"
    assert lines[0]["attempts"] == 3 and len(lines[0]["delays_ms"]) == 2


def test_timeout_is_retried_then_timeout(probe, static_env, service):
    svc = service(default=(200, "<ok/>", {"_delay_s": 1.0}))
    env = dict(static_env, AWS_ENDPOINT_URL=svc.url)
    lines, _ = run_probe(probe, env, "--attempts", "2", "--base-ms", "5", "--timeout-ms", "300",
                         "send", "sqs", "POST", "/")
    assert lines[0]["status"] == "ERR_TIMEOUT" and lines[0]["attempts"] == 2


def test_response_size_is_bounded_and_not_retried(probe, static_env, service):
    svc = service(default=(200, "x" * 200000, {}))
    env = dict(static_env, AWS_ENDPOINT_URL=svc.url)
    lines, _ = run_probe(probe, env, "--max-response", "1000", "send", "s3", "GET", "/big",
                         "--bucket", "b")
    assert lines[0]["status"] == "ERR_TOO_LARGE"
    assert lines[0]["attempts"] == 1 and len(svc.requests) == 1


# ---- requests as sent -----------------------------------------------------------


def test_s3_path_style_signed_request_and_connection_reuse(probe, static_env, service):
    svc = service(default=(200, "", {"ETag": "\"abc\""}))
    env = dict(static_env, AWS_ENDPOINT_URL_S3=svc.url, AWS_ENDPOINT_URL="http://127.0.0.1:9")
    lines, proc = run_probe(probe, env, "--repeat", "3", "--body", "hello", "send", "s3", "PUT",
                            "/dir/test_0.JPEG", "--bucket", "inputs")
    assert [l["status"] for l in lines] == ["OK"] * 3
    assert lines[0]["etag"] == "\"abc\"" and lines[0]["request_id"] == "req-1"
    r = svc.requests[0]
    assert r["method"] == "PUT" and r["path"] == "/inputs/dir/test_0.JPEG"
    assert r["body"] == b"hello"
    assert r["headers"]["Host"] == f"127.0.0.1:{svc.port}"
    assert r["headers"]["x-amz-content-sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert "Expect" not in r["headers"] and "Accept" not in r["headers"]
    assert svc.requests and all(x["signature_ok"] for x in svc.requests)
    assert len({x["client_port"] for x in svc.requests}) == 1, "one connection, reused"
    assert_no_secrets(proc, STATIC_SECRET)


def test_query_api_post_gets_form_content_type(probe, static_env, service):
    svc = service()
    env = dict(static_env, AWS_ENDPOINT_URL_SQS=svc.url)
    lines, _ = run_probe(probe, env, "--body", "Action=ListQueues&Version=2012-11-05",
                         "--query", "b=2&a=1", "send", "sqs", "POST", "/")
    r = svc.requests[0]
    assert lines[0]["status"] == "OK"
    assert r["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert r["query"] == "b=2&a=1" and r["signature_ok"]


def test_head_and_delete(probe, static_env, service):
    svc = service(script=[(200, "", {"Content-Length-Hint": "5"}), (204, "", {})])
    env = dict(static_env, AWS_ENDPOINT_URL=svc.url)
    lines, _ = run_probe(probe, env, "send", "s3", "HEAD", "/k", "--bucket", "b")
    assert lines[0]["status"] == "OK"
    lines, _ = run_probe(probe, env, "send", "s3", "DELETE", "/k", "--bucket", "b")
    assert lines[0]["status"] == "OK" and lines[0]["http_status"] == 204
    assert [r["method"] for r in svc.requests] == ["HEAD", "DELETE"]
    assert svc.requests and all(r["signature_ok"] for r in svc.requests)
