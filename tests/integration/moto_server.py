"""moto in server mode on a free 127.0.0.1 port, for the S3/SQS/EC2 tests.

    with MotoServer() as moto:           # or MotoServer(auth_free_requests=3)
        env = moto.env()                 # AWS_* for our programs: moto's IAM key,
        subprocess.run([...], env=env)   # AWS_ENDPOINT_URL=http://127.0.0.1:PORT

The server is `python3 -m moto.server` (moto[server] from PyPI; CI installs it
with scripts/dev.sh deps). One server per test module keeps the suite fast.

Signatures are checked: moto runs with INITIAL_NO_AUTH_ACTION_COUNT=N, so the
first N requests are not checked and every later one must carry a valid
SigV4 signature of an IAM access key that is allowed the action. By default
(authenticated=True) the server spends its three free requests on an IAM
user, an access key and an allow-everything policy, and env() hands that key
to our programs: a signing bug fails every test that talks to the server.
With auth_free_requests=N the caller does that set-up itself
(test_aws_auth.py); with authenticated=False moto accepts any signature.

Nothing here talks to real AWS: the endpoint is always the local server and
the credentials are dummies (or keys moto itself issued).
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from conftest import free_port

DUMMY_KEY_ID = "AKIAMOTODUMMYKEY0000"
DUMMY_SECRET = "moto-dummy-secret-not-a-real-one"
REGION = "us-east-1"

# The IAM calls (boto3 client method, arguments) that give a server its own
# key; as many free requests as there are calls.
_ALLOW_ALL = json.dumps({"Version": "2012-10-17",
                         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
_IAM_SETUP = (
    ("create_user", {"UserName": "tests"}),
    ("create_access_key", {"UserName": "tests"}),
    ("put_user_policy", {"UserName": "tests", "PolicyName": "all", "PolicyDocument": _ALLOW_ALL}),
)

# Variables that must not leak from the developer's shell into the tests
# (a real profile or endpoint would send requests to AWS).
_AWS_VARS_DROPPED = ("AWS_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
                     "ALL_PROXY", "all_proxy")


def moto_available() -> bool:
    try:
        import moto.server  # noqa: F401
        return True
    except Exception:
        return False


class MotoServer:
    """A moto server subprocess; close() (or the with block) stops it."""

    def __init__(self, auth_free_requests=None, authenticated=True, start_timeout_s=60.0):
        if not moto_available():
            raise RuntimeError("moto is not installed: pip install 'moto[server]' "
                               "(scripts/dev.sh deps does it)")
        self.own_key = authenticated and auth_free_requests is None
        self.auth_free_requests = len(_IAM_SETUP) if self.own_key else auth_free_requests
        self.key_id, self.secret = DUMMY_KEY_ID, DUMMY_SECRET
        self.proc = None
        self.log_path = None
        tail = ""
        for _ in range(3):  # the port may be taken between choosing and binding
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            if self._start(start_timeout_s):
                if self.own_key:
                    self._make_iam_key()
                return
            with open(self.log_path, errors="replace") as f:
                tail = f.read()[-2000:]
            self.close()
        raise RuntimeError("moto server did not start:\n" + tail)

    def _server_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(_AWS_VARS_DROPPED) and k not in ("LD_PRELOAD",)}
        # moto itself must not be sanitized or traced: only our programs are.
        for k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"):
            env.pop(k, None)
        env.update(AWS_ACCESS_KEY_ID=DUMMY_KEY_ID, AWS_SECRET_ACCESS_KEY=DUMMY_SECRET,
                   AWS_DEFAULT_REGION=REGION, PYTHONDONTWRITEBYTECODE="1")
        if self.auth_free_requests is not None:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(self.auth_free_requests)
        return env

    def _start(self, timeout_s) -> bool:
        import tempfile
        fd, self.log_path = tempfile.mkstemp(prefix="moto-", suffix=".log")
        with os.fdopen(fd, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=self._server_env(),
                start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                # The dashboard API answers without credentials once the
                # server is ready; it is not an AWS action (no auth count).
                with urllib.request.urlopen(self.url + "/moto-api/data.json", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        return False

    def _make_iam_key(self):
        """Spends the free requests on an IAM user allowed everything and
        keeps its access key (boto3, a moto dependency, for this only)."""
        import boto3
        iam = boto3.client("iam", endpoint_url=self.url, region_name=REGION,
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        for action, kwargs in _IAM_SETUP:
            answer = getattr(iam, action)(**kwargs)
            if action == "create_access_key":
                key = answer["AccessKey"]
                self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]

    def env(self, **extra) -> dict:
        """An environment for our programs: no inherited AWS settings, the
        server's IAM key (dummy ones when signatures are not checked), the
        region, this server as the endpoint for every service, no instance
        metadata, no shared files."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_AWS_VARS_DROPPED)}
        env.update(AWS_ACCESS_KEY_ID=self.key_id, AWS_SECRET_ACCESS_KEY=self.secret,
                   AWS_REGION=REGION, AWS_ENDPOINT_URL=self.url,
                   AWS_EC2_METADATA_DISABLED="true",
                   AWS_SHARED_CREDENTIALS_FILE="/nonexistent/credentials",
                   AWS_CONFIG_FILE="/nonexistent/config")
        env.update(extra)
        return env

    def raw_query(self, service: str, form: str) -> bytes:
        """POSTs a query-API form to the server (for set-up and checks that
        our library does not offer, such as IAM instance profiles), signed by
        botocore with the server's own key -- or, when the caller does the
        IAM set-up itself, with a dummy signature that only the free requests
        pass. The credential scope names the service, which is how moto
        routes a request to 127.0.0.1."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.own_key:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            req = AWSRequest(method="POST", url=self.url + "/", data=form, headers=headers)
            SigV4Auth(Credentials(self.key_id, self.secret), service, REGION).add_auth(req)
            headers = dict(req.headers.items())
        else:
            scope = f"{DUMMY_KEY_ID}/20260101/{REGION}/{service}/aws4_request"
            headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={scope}, "
                                        "SignedHeaders=host, Signature=0")
        req = urllib.request.Request(self.url + "/", data=form.encode(), headers=headers)
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if self.log_path and os.path.exists(self.log_path):
            os.unlink(self.log_path)
        self.log_path = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- helpers for the test modules ----------------------------------------------


def built(*parts) -> str:
    """A program of the build tree (CLOUDREC_BUILD_ROOT/parts...), which must exist."""
    path = os.path.join(os.environ["CLOUDREC_BUILD_ROOT"], *parts)
    assert os.access(path, os.X_OK), f"{path} must be built"
    return path


def run(args, env, input=None, timeout=180, text=True):
    """Runs a program with env, capturing its output; never raises on the
    exit status. input is str (text mode) or bytes (text=False)."""
    return subprocess.run([str(a) for a in args], env=env, input=input, capture_output=True,
                          text=text, timeout=timeout)


def run_tap(args, env, timeout=300):
    """Runs a TAP program (svc_check) and asserts every check passed."""
    proc = run(args, env, timeout=timeout)
    failed = [line for line in proc.stdout.splitlines() if line.startswith("not ok")]
    assert proc.returncode == 0 and not failed, proc.stdout + proc.stderr
    plan = [line for line in proc.stdout.splitlines() if line.startswith("1..")]
    assert plan and int(plan[0][3:]) > 10, proc.stdout
    return proc


def cloudrec(env, *args, **kw):
    """Runs the built `cloudrec` CLI with args (e.g. "s3", "ls", ...)."""
    return run([os.environ["CLOUDREC_CLI"], *args], env, **kw)


def cloudrec_json(env, *args, **kw):
    """Runs `cloudrec ... --json`, asserts success and returns the parsed answer."""
    proc = cloudrec(env, *args, "--json", **kw)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
