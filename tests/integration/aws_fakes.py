"""Fake AWS endpoints on 127.0.0.1 for the transport tests.

ImdsServer: EC2 instance metadata, IMDSv2 only. A token comes from
PUT /latest/api/token (TTL header required, 1..21600) and is required on
every GET (missing, unknown or expired token -> 401). The role's credentials
expire after `lifetime_s`; each fetch issues a new key pair.

ServiceServer: answers from a script of (status, body, headers) entries, then
a default; records every request and checks its SigV4 signature against the
secrets it is told about.
"""
import datetime
import hashlib
import hmac
import http.server
import json
import secrets
import threading
import time


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base:
    """Runs a handler class on a free port in a background thread."""

    def __init__(self, handler):
        self.lock = threading.Lock()
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _ImdsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        imds = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        imds.record("PUT", self.path, ttl=ttl)
        if self.path != "/latest/api/token":
            return self._reply(404)
        if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self._reply(400)
        token = secrets.token_urlsafe(24)
        life = min(int(ttl), imds.server_token_cap_s or int(ttl))
        with imds.lock:
            imds.tokens[token] = time.time() + life
        self._reply(200, token.encode())

    def do_GET(self):
        imds = self.server.owner
        token = self.headers.get("X-aws-ec2-metadata-token")
        with imds.lock:
            valid = token is not None and imds.tokens.get(token, 0) > time.time()
        imds.record("GET", self.path, token_ok=valid, had_token=token is not None)
        if not valid:
            return self._reply(401)
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            return self._reply(200, (imds.role + "\n").encode())
        if self.path == base + imds.role:
            return self._reply(200, json.dumps(imds.issue()).encode(), "application/json")
        self._reply(404)


class ImdsServer(_Base):
    def __init__(self, lifetime_s=3600, role="test-role", server_token_cap_s=0):
        self.lifetime_s = lifetime_s
        self.role = role
        self.server_token_cap_s = server_token_cap_s
        self.tokens = {}
        self.requests = []
        self.issued = []  # (access key id, secret, session token)
        super().__init__(_ImdsHandler)

    def record(self, method, path, **kw):
        with self.lock:
            self.requests.append(dict(method=method, path=path, t=time.time(), **kw))

    def issue(self):
        with self.lock:
            n = len(self.issued) + 1
            creds = (f"ASIAGEN{n:04d}", f"imds-secret-{n}-{secrets.token_hex(8)}",
                     f"imds-token-{n}-{secrets.token_hex(8)}")
            self.issued.append(creds)
        return {"Code": "Success", "LastUpdated": _iso(time.time()), "Type": "AWS-HMAC",
                "AccessKeyId": creds[0], "SecretAccessKey": creds[1], "Token": creds[2],
                "Expiration": _iso(time.time() + self.lifetime_s)}

    def secrets_by_key(self):
        with self.lock:
            return {c[0]: c[1] for c in self.issued}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical_query(query: str) -> str:
    pairs = [p.partition("=") for p in query.split("&")] if query else []
    return "&".join(f"{k}={v}" for k, _, v in sorted((k, s, v) for k, s, v in pairs))


def verify_sigv4(method, path, query, headers, body, secret_for):
    """True when the request's Authorization header is a valid SigV4
    signature made with the secret of its access key (simple paths only:
    the test requests use unreserved characters)."""
    auth = headers.get("Authorization") or ""
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return False
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    key_id, date, region, service, _ = fields["Credential"].split("/")
    secret = secret_for.get(key_id)
    if secret is None:
        return False
    signed = fields["SignedHeaders"].split(";")
    canon_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    payload = headers.get("x-amz-content-sha256") or _sha256(body)
    creq = "\n".join([method, path, _canonical_query(query), canon_headers,
                      fields["SignedHeaders"], payload])
    scope = f"{date}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", headers.get("X-Amz-Date", ""), scope,
                     _sha256(creq.encode())])
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(k, sts.encode(), hashlib.sha256).hexdigest(),
                               fields["Signature"])


class _ServiceHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _handle(self):
        svc = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        auth = self.headers.get("Authorization") or ""
        key_id = auth.split("Credential=")[1].split("/")[0] if "Credential=" in auth else None
        entry = dict(method=self.command, path=path, query=query, body=body, t=time.time(),
                     headers=dict(self.headers.items()), key_id=key_id,
                     token=self.headers.get("X-Amz-Security-Token"),
                     client_port=self.client_address[1],
                     signature_ok=verify_sigv4(self.command, path, query, self.headers, body,
                                               svc.secret_for()))
        with svc.lock:
            svc.requests.append(entry)
            status, rbody, rheaders = svc.script.pop(0) if svc.script else svc.default
        if rheaders.get("_delay_s"):
            time.sleep(rheaders["_delay_s"])
        rbody = rbody.encode() if isinstance(rbody, str) else rbody
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("x-amz-request-id", f"req-{len(svc.requests)}")
        for k, v in rheaders.items():
            if not k.startswith("_"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(rbody)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(rbody)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class ServiceServer(_Base):
    def __init__(self, script=None, default=(200, "<ok/>", {}), secrets_source=None):
        self.script = list(script or [])
        self.default = default
        self.requests = []
        self.static_secrets = {}
        self.secrets_source = secrets_source
        super().__init__(_ServiceHandler)

    def secret_for(self):
        known = dict(self.static_secrets)
        if self.secrets_source:
            known.update(self.secrets_source())
        return known


def s3_error(code, message="detail"):
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
            f"<Message>{message}</Message><RequestId>rid-{code}</RequestId></Error>")


def sqs_error(code, message="detail"):
    return ("<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/"
            f"2012-11-05/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}"
            "</Message><Detail/></Error><RequestId>rid-sqs</RequestId></ErrorResponse>")


def ec2_error(code, message="detail"):
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}"
            f"</Code><Message>{message}</Message></Error></Errors><RequestID>rid-ec2</RequestID>"
            "</Response>")




def parse_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


