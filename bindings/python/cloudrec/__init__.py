"""libcloudrec from Python, through ctypes (no compiled extension).

    import cloudrec
    with cloudrec.Classifier() as clf:            # default model lookup
        print(clf.classify_file("dog.jpg", top=3))   # [("malamute", 0.1418), ...]

    with cloudrec.Aws() as aws:                   # AWS_REGION, AWS_PROFILE, ... as usual
        aws.s3_put("inputs", "dog.jpg", data, content_type="image/jpeg")
        url = aws.sqs_create_queue("requests")
        aws.sqs_send(url, "hello")
        for m in aws.sqs_receive(url, max_messages=10, wait_s=20):
            aws.sqs_delete(url, m.receipt_handle)

The shared library is $CLOUDREC_LIB when that is set (nothing else is tried);
otherwise, for a package installed by `meson install`, the library installed
with it (recorded in cloudrec/_paths.py); then the system loader's
libcloudrec.so, then the build*/ directories of the source checkout this file
lives in. Errors raise a subclass of CloudrecError by status (NotFound,
InvalidInput, TooLarge, AwsError with its aws_code, ...), which carries the
library's status code, its name and the one-line message.
"""
import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import Any, Iterator, List, NoReturn, Optional, Tuple, TypeVar, Union

__all__ = ["Aws", "Classifier", "CloudrecError", "Session", "SqsMessage", "version",
           "model_paths", "InvalidInput", "NotFound", "TooLarge", "Unsupported", "ModelError",
           "NetworkError", "AwsError", "StateError"]

_Self = TypeVar("_Self", bound="_Closing")

_LABEL_MAX = 128
_PATH_MAX = 4096

# Layouts mirrored from the C headers. Options go to the library as
# "name=value" strings (cr_aws_open_settings, cr_classifier_open_settings),
# so no options struct is mirrored for opening a classifier or an AWS
# context. What stays mirrored is memory the caller must provide or read
# back, where a call per field would cost more exports than it saves:
# struct cr_error (caller-allocated, fixed size, no pointers), the
# caller-provided result arrays and buffers (cr_prediction, cr_model_paths,
# cr_buf), the results the library allocates (cr_s3_object, cr_sqs_messages)
# and the small per-call S3 and SQS options. tests/test_binding.py checks
# every one of them against the C compiler's sizeof and offsetof.


class _Error(ctypes.Structure):
    _fields_ = [
        ("status", ctypes.c_int),
        ("http_status", ctypes.c_long),
        ("aws_code", ctypes.c_char * 64),
        ("request_id", ctypes.c_char * 128),
        ("message", ctypes.c_char * 512),
    ]


class _Prediction(ctypes.Structure):
    _fields_ = [
        ("class_index", ctypes.c_int),
        ("probability", ctypes.c_float),
        ("label", ctypes.c_char * _LABEL_MAX),
    ]


class _ModelPaths(ctypes.Structure):
    _fields_ = [(name, ctypes.c_char * _PATH_MAX) for name in ("dir", "cfg", "weights", "names")]


# enum cr_engine
ENGINES = {"auto": 0, "native": 1, "darknet": 2}


class CloudrecError(Exception):
    """A libcloudrec call failed: `status` (int), `name` ("ERR_FORMAT"), `message`.

    AWS calls also fill `aws_code` ("NoSuchKey"), `http_status` (404) and
    `request_id`; they are "", 0 and "" for other failures.
    """

    def __init__(self, status: int, name: str, message: str, aws_code: str = "",
                 http_status: int = 0, request_id: str = ""):
        super().__init__(f"{message} [{name}]")
        self.status = status
        self.name = name
        self.message = message
        self.aws_code = aws_code
        self.http_status = http_status
        self.request_id = request_id


class InvalidInput(CloudrecError, ValueError):
    """A bad argument or malformed data (ERR_INVALID, ERR_FORMAT, ERR_CHECKSUM)."""


class NotFound(CloudrecError, LookupError):
    """A file, object, queue or library that does not exist (ERR_NOT_FOUND)."""


class TooLarge(CloudrecError):
    """Over a size or pixel limit (ERR_TOO_LARGE)."""


class Unsupported(CloudrecError):
    """A format, layer or option the library does not handle (ERR_UNSUPPORTED)."""


class ModelError(CloudrecError):
    """A model file that is malformed or does not fit the network (ERR_MODEL)."""


class NetworkError(CloudrecError, OSError):
    """The network failed or timed out (ERR_NETWORK, ERR_TIMEOUT, ERR_HTTP)."""


class AwsError(CloudrecError):
    """An AWS service answered with an error (ERR_AWS, ERR_AUTH, ERR_THROTTLED,
    ERR_EXISTS); `aws_code` says which ("NoSuchBucket", "AccessDenied")."""


class StateError(CloudrecError):
    """The call is not valid now, e.g. on a closed object (ERR_STATE)."""


# Status -> exception class; other statuses (memory, I/O, internal) raise
# the base class.
_ERRORS = {1: InvalidInput, 4: NotFound, 5: TooLarge, 6: InvalidInput, 7: Unsupported,
           8: ModelError, 9: NetworkError, 10: NetworkError, 11: NetworkError, 12: AwsError,
           13: AwsError, 14: InvalidInput, 15: StateError, 17: AwsError, 18: AwsError}


def _installed() -> List[str]:
    """The library `meson install` put beside this package, if it did."""
    try:
        from . import _paths  # type: ignore[attr-defined]  # written by meson install only
    except ImportError:
        return []
    here = Path(__file__).resolve().parent
    return [str(here / _paths.LIBDIR_FROM_PACKAGE / _paths.SONAME),
            str(Path(_paths.LIBDIR) / _paths.SONAME)]


def _candidates() -> Iterator[str]:
    env = os.environ.get("CLOUDREC_LIB")
    if env:
        yield env
        return
    yield from _installed()
    found = ctypes.util.find_library("cloudrec")
    if found:
        yield found
    parents = Path(__file__).resolve().parents
    if len(parents) > 3:  # bindings/python/cloudrec/ in a checkout
        for build in sorted(parents[3].glob("build*")):
            yield str(build / "libcloudrec" / "libcloudrec.so")


def _load() -> ctypes.CDLL:
    tried = []
    for cand in _candidates():
        try:
            return ctypes.CDLL(cand)
        except OSError as exc:
            tried.append(f"{cand} ({exc})")
    raise OSError("libcloudrec.so not found; set CLOUDREC_LIB. Tried: " + "; ".join(tried))


_lib = _load()


def _declare(name: str, restype: Any, *argtypes: Any) -> Any:
    fn = getattr(_lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


_status = ctypes.c_int
_cl_p = ctypes.c_void_p
_err_p = ctypes.POINTER(_Error)
_pred_p = ctypes.POINTER(_Prediction)
_size_p = ctypes.POINTER(ctypes.c_size_t)

_version = _declare("cr_version", ctypes.c_char_p)
_status_name = _declare("cr_status_name", ctypes.c_char_p, _status)
_strerror = _declare("cr_strerror", ctypes.c_char_p, _status)
_settings_p = ctypes.POINTER(ctypes.c_char_p)
_model_resolve = _declare("cr_model_resolve", _status, ctypes.c_char_p,
                          ctypes.POINTER(_ModelPaths), _err_p)
_open = _declare("cr_classifier_open_settings", _status, _settings_p, ctypes.POINTER(_cl_p),
                 _err_p)
_free = _declare("cr_classifier_free", None, _cl_p)
_num_classes = _declare("cr_classifier_num_classes", ctypes.c_int, _cl_p)
_engine_of = _declare("cr_classifier_engine", ctypes.c_int, _cl_p)
_classify_bytes = _declare("cr_classify_bytes", _status, _cl_p, ctypes.c_char_p,
                           ctypes.c_size_t, _pred_p, ctypes.c_size_t, _size_p, _err_p)
_classify_file = _declare("cr_classify_file", _status, _cl_p, ctypes.c_char_p, _pred_p,
                          ctypes.c_size_t, _size_p, _err_p)


def _raise(status: int, err: _Error) -> NoReturn:
    name = _status_name(status).decode()
    message = err.message.decode(errors="replace") or _strerror(status).decode()
    raise _ERRORS.get(status, CloudrecError)(status, name, message,
                                             err.aws_code.decode(errors="replace"),
                                             int(err.http_status),
                                             err.request_id.decode(errors="replace"))


def _path_arg(p: Union[str, os.PathLike, None]) -> Optional[bytes]:
    return None if p is None else os.fsencode(p)


def _settings(**values: Any) -> Any:
    """A NULL-terminated char *[] of b"name=value" for the *_open_settings
    calls; None values are left out (the library's default). The array keeps
    the bytes alive for as long as it lives."""
    items = []
    for name, value in values.items():
        if value is None:
            continue
        raw = os.fsencode(value) if isinstance(value, (str, os.PathLike)) else str(value).encode()
        if b"\0" in raw:
            raise ValueError(f"{name} contains a NUL byte")
        items.append(name.encode() + b"=" + raw)
    return (ctypes.c_char_p * (len(items) + 1))(*items, None)


def version() -> str:
    """The library's version string."""
    return _version().decode()


def model_paths(model_dir: Union[str, os.PathLike, None] = None) -> dict:
    """The model files that would be used: dir, cfg, weights, names."""
    paths, err = _ModelPaths(), _Error()
    status = _model_resolve(_path_arg(model_dir), ctypes.byref(paths), ctypes.byref(err))
    if status:
        _raise(status, err)
    return {f[0]: getattr(paths, f[0]).decode() for f in _ModelPaths._fields_}


class _Closing:
    """Context-manager and finaliser plumbing for objects with close()."""

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class Classifier(_Closing):
    """One loaded network.

    model_dir follows the library's lookup (argument, $CLOUDREC_MODEL_DIR,
    ./models/tiny-darknet, ../shared/models/tiny-darknet); cfg, weights and
    names override single files (when all three are given, model_dir is not
    used). max_bytes / max_pixels bound decoding (0 = library default).
    engine is "auto" (native when the cfg allows it, else Darknet), "native"
    or "darknet"; the `engine` property says which one runs. A native
    Classifier may be used by several threads at once (ctypes releases the
    GIL during the call); a Darknet one by one thread at a time.
    """

    def __init__(self, model_dir=None, *, cfg=None, weights=None, names=None,
                 max_bytes: int = 0, max_pixels: int = 0, engine: str = "auto"):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        settings = _settings(model_dir=model_dir, cfg=cfg, weights=weights, names=names,
                             max_bytes=max_bytes or None, max_pixels=max_pixels or None,
                             engine=engine)
        self._handle = _cl_p()
        err = _Error()
        status = _open(settings, ctypes.byref(self._handle), ctypes.byref(err))
        if status:
            _raise(status, err)

    @property
    def num_classes(self) -> int:
        return _num_classes(self._live())

    @property
    def engine(self) -> str:
        """"native" or "darknet": the engine this classifier runs on."""
        code = _engine_of(self._live())
        return next(name for name, value in ENGINES.items() if value == code)

    def _live(self):
        if not self._handle:
            raise StateError(15, "ERR_STATE", "classifier is closed")
        return self._handle

    def _run(self, call, top: int) -> List[Tuple[str, float]]:
        if not isinstance(top, int) or top < 1:
            raise ValueError("top must be a positive integer")
        out = (_Prediction * top)()
        n = ctypes.c_size_t(0)
        err = _Error()
        status = call(out, ctypes.byref(n), ctypes.byref(err))
        if status:
            _raise(status, err)
        return [(out[i].label.decode(), float(out[i].probability)) for i in range(n.value)]

    def classify(self, data: bytes, top: int = 5) -> List[Tuple[str, float]]:
        """Top labels of an encoded JPEG or PNG given as bytes."""
        handle = self._live()
        data = bytes(data)
        return self._run(lambda out, n, err: _classify_bytes(handle, data, len(data), out, top,
                                                             n, err), top)

    def classify_file(self, path: Union[str, os.PathLike], top: int = 5) -> List[Tuple[str, float]]:
        """Top labels of an image file."""
        handle = self._live()
        raw = os.fsencode(path)
        return self._run(lambda out, n, err: _classify_file(handle, raw, out, top, n, err), top)

    def close(self) -> None:
        """Frees the network; further calls raise CloudrecError(ERR_STATE)."""
        if self._handle:
            _free(self._handle)
            self._handle = _cl_p()


# ---- AWS: S3 and SQS ----------------------------------------------------------------

class _Buf(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_ubyte)), ("len", ctypes.c_size_t),
                ("cap", ctypes.c_size_t), ("max_bytes", ctypes.c_size_t)]

    def take(self) -> bytes:
        """The contents as bytes; the buffer is freed."""
        data = ctypes.string_at(self.data, self.len) if self.data else b""
        _buf_free(ctypes.byref(self))
        return data


class _S3Object(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("etag", ctypes.c_char_p),
                ("content_type", ctypes.c_char_p), ("storage_class", ctypes.c_char_p),
                ("size_bytes", ctypes.c_int64), ("last_modified_s", ctypes.c_int64)]


class _S3CreateBucketOptions(ctypes.Structure):
    _fields_ = [("region", ctypes.c_char_p)]


class _S3PutOptions(ctypes.Structure):
    _fields_ = [("content_type", ctypes.c_char_p)]


class _S3GetOptions(ctypes.Structure):
    _fields_ = [("max_bytes", ctypes.c_size_t)]


class _SqsCreateOptions(ctypes.Structure):
    _fields_ = [("visibility_timeout_s", ctypes.c_int), ("message_retention_s", ctypes.c_int),
                ("receive_wait_s", ctypes.c_int), ("dead_letter_target_arn", ctypes.c_char_p),
                ("max_receive_count", ctypes.c_int), ("attributes", ctypes.c_void_p),
                ("num_attributes", ctypes.c_size_t)]


class _SqsSendOptions(ctypes.Structure):
    _fields_ = [("delay_s", ctypes.c_int)]


class _SqsReceiveOptions(ctypes.Structure):
    _fields_ = [("max_messages", ctypes.c_int), ("wait_s", ctypes.c_int),
                ("visibility_timeout_s", ctypes.c_int), ("timeout_ms", ctypes.c_long)]


class _SqsMessage(ctypes.Structure):
    _fields_ = [("message_id", ctypes.c_char_p), ("receipt_handle", ctypes.c_char_p),
                ("body", ctypes.c_void_p), ("body_len", ctypes.c_size_t),
                ("md5_of_body", ctypes.c_char_p), ("receive_count", ctypes.c_int),
                ("sent_ms", ctypes.c_int64), ("first_receive_ms", ctypes.c_int64),
                ("attribute_names", ctypes.POINTER(ctypes.c_char_p)),
                ("attribute_values", ctypes.POINTER(ctypes.c_char_p)),
                ("num_attributes", ctypes.c_size_t)]


class _SqsMessages(ctypes.Structure):
    _fields_ = [("messages", ctypes.POINTER(_SqsMessage)), ("count", ctypes.c_size_t)]


_aws_p = ctypes.c_void_p
_buf_p = ctypes.POINTER(_Buf)
_s3obj_pp = ctypes.POINTER(ctypes.POINTER(_S3Object))
_SQS_ZERO = -1  # CR_SQS_ZERO: an explicit 0 where 0 means "the default"

_buf_free = _declare("cr_buf_free", None, _buf_p)
_aws_open = _declare("cr_aws_open_settings", _status, _settings_p, ctypes.POINTER(_aws_p),
                     _err_p)
_aws_free = _declare("cr_aws_free", None, _aws_p)
_aws_region = _declare("cr_aws_region", ctypes.c_char_p, _aws_p)
_aws_source = _declare("cr_aws_credentials_source", ctypes.c_char_p, _aws_p)
_s3_object_free = _declare("cr_s3_object_free", None, ctypes.POINTER(_S3Object))
_s3_create_bucket = _declare("cr_s3_create_bucket", _status, _aws_p, ctypes.c_char_p,
                             ctypes.POINTER(_S3CreateBucketOptions), _err_p)
_s3_put = _declare("cr_s3_put_object", _status, _aws_p, ctypes.c_char_p, ctypes.c_char_p,
                   ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_S3PutOptions), _s3obj_pp,
                   _err_p)
_s3_get = _declare("cr_s3_get_object", _status, _aws_p, ctypes.c_char_p, ctypes.c_char_p,
                   ctypes.POINTER(_S3GetOptions), _buf_p, _s3obj_pp, _err_p)
_sqs_create = _declare("cr_sqs_create_queue", _status, _aws_p, ctypes.c_char_p,
                       ctypes.POINTER(_SqsCreateOptions), _buf_p, _err_p)
_sqs_url = _declare("cr_sqs_get_queue_url", _status, _aws_p, ctypes.c_char_p, _buf_p, _err_p)
_sqs_send = _declare("cr_sqs_send", _status, _aws_p, ctypes.c_char_p, ctypes.c_char_p,
                     ctypes.c_size_t, ctypes.POINTER(_SqsSendOptions), _buf_p, _err_p)
_sqs_receive = _declare("cr_sqs_receive", _status, _aws_p, ctypes.c_char_p,
                        ctypes.POINTER(_SqsReceiveOptions),
                        ctypes.POINTER(ctypes.POINTER(_SqsMessages)), _err_p)
_sqs_messages_free = _declare("cr_sqs_messages_free", None, ctypes.POINTER(_SqsMessages))
_sqs_delete = _declare("cr_sqs_delete", _status, _aws_p, ctypes.c_char_p, ctypes.c_char_p,
                       _err_p)


def _text(v: Optional[str]) -> Optional[bytes]:
    return None if v is None else v.encode()


def _str(v: Optional[bytes]) -> Optional[str]:
    return None if v is None else v.decode(errors="replace")


def _seconds(v: int) -> int:
    """An explicit 0 for options where the C API reads 0 as "the default"."""
    return _SQS_ZERO if v == 0 else v


class SqsMessage:
    """One received SQS message (a copy: nothing refers to library memory)."""

    __slots__ = ("message_id", "receipt_handle", "body", "md5_of_body", "receive_count",
                 "sent_ms", "first_receive_ms", "attributes")

    def __init__(self, m: _SqsMessage) -> None:
        self.message_id = _str(m.message_id)
        self.receipt_handle = _str(m.receipt_handle)
        self.body = ctypes.string_at(m.body, m.body_len).decode() if m.body else ""
        self.md5_of_body = _str(m.md5_of_body)
        self.receive_count = int(m.receive_count)
        self.sent_ms = int(m.sent_ms)
        self.first_receive_ms = int(m.first_receive_ms)
        self.attributes = {m.attribute_names[i].decode(): m.attribute_values[i].decode()
                           for i in range(m.num_attributes)}

    def __repr__(self) -> str:
        return (f"SqsMessage(message_id={self.message_id!r}, body={self.body!r}, "
                f"receive_count={self.receive_count})")


class Aws(_Closing):
    """An AWS context (struct cr_aws): region, credentials, endpoint, retries
    and one reused connection, for S3 and SQS calls. Not thread-safe: open
    one per thread.

    Every argument is optional; None means the library's lookup
    (AWS_REGION / AWS_DEFAULT_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID ...,
    AWS_ENDPOINT_URL[_S3|_SQS], instance metadata). Opening does no network
    I/O. Errors raise CloudrecError with aws_code, http_status and
    request_id set for service answers.
    """

    def __init__(self, *, region: Optional[str] = None, profile: Optional[str] = None,
                 access_key_id: Optional[str] = None, secret_access_key: Optional[str] = None,
                 session_token: Optional[str] = None, endpoint_url: Optional[str] = None,
                 connect_timeout_ms: int = 0, timeout_ms: int = 0, max_attempts: int = 0):
        settings = _settings(region=region, profile=profile, access_key_id=access_key_id,
                             secret_access_key=secret_access_key, session_token=session_token,
                             endpoint_url=endpoint_url,
                             connect_timeout_ms=connect_timeout_ms or None,
                             timeout_ms=timeout_ms or None, max_attempts=max_attempts or None)
        self._handle = _aws_p()
        err = _Error()
        status = _aws_open(settings, ctypes.byref(self._handle), ctypes.byref(err))
        if status:
            _raise(status, err)

    def _live(self):
        if not self._handle:
            raise StateError(15, "ERR_STATE", "AWS context is closed")
        return self._handle

    @staticmethod
    def _check(status: int, err: _Error):
        if status:
            _raise(status, err)

    @property
    def region(self) -> str:
        return _aws_region(self._live()).decode()

    @property
    def credentials_source(self) -> str:
        """Where the credentials come from ("environment", "profile:dev",
        "imds:role", ...); never a secret."""
        return _aws_source(self._live()).decode()

    # -- S3 --

    def s3_create_bucket(self, bucket: str, region: Optional[str] = None) -> None:
        """Creates a bucket (in region, default the context's); one you own
        already is success."""
        err = _Error()
        opts = _S3CreateBucketOptions(_text(region))
        self._check(_s3_create_bucket(self._live(), bucket.encode(), ctypes.byref(opts),
                                      ctypes.byref(err)), err)

    def s3_put(self, bucket: str, key: str, data: bytes,
               content_type: Optional[str] = None) -> dict:
        """Stores data under bucket/key; returns {"key", "etag", "size",
        "content_type"}."""
        data = bytes(data)
        err = _Error()
        info = ctypes.POINTER(_S3Object)()
        opts = _S3PutOptions(_text(content_type))
        status = _s3_put(self._live(), bucket.encode(), key.encode(), data, len(data),
                         ctypes.byref(opts), ctypes.byref(info), ctypes.byref(err))
        self._check(status, err)
        try:
            o = info.contents
            return {"key": _str(o.key), "etag": _str(o.etag), "size": int(o.size_bytes),
                    "content_type": _str(o.content_type)}
        finally:
            _s3_object_free(info)

    def s3_get(self, bucket: str, key: str, max_bytes: int = 0) -> bytes:
        """The object's bytes. CloudrecError ERR_NOT_FOUND (aws_code NoSuchKey
        or NoSuchBucket) when it is missing; ERR_TOO_LARGE over max_bytes
        (0 = the context's limit, 64 MiB)."""
        err = _Error()
        buf = _Buf()
        opts = _S3GetOptions(max_bytes)
        status = _s3_get(self._live(), bucket.encode(), key.encode(), ctypes.byref(opts),
                         ctypes.byref(buf), None, ctypes.byref(err))
        data = buf.take()
        self._check(status, err)
        return data

    # -- SQS --

    def _url_call(self, fn, *args) -> str:
        err = _Error()
        buf = _Buf()
        status = fn(self._live(), *args, ctypes.byref(buf), ctypes.byref(err))
        url = buf.take().decode()
        self._check(status, err)
        return url

    def sqs_create_queue(self, name: str, visibility_timeout_s: Optional[int] = None,
                         receive_wait_s: Optional[int] = None) -> str:
        """Creates (or finds) a queue and returns its URL."""
        opts = _SqsCreateOptions()
        if visibility_timeout_s is not None:
            opts.visibility_timeout_s = _seconds(visibility_timeout_s)
        if receive_wait_s is not None:
            opts.receive_wait_s = _seconds(receive_wait_s)
        return self._url_call(_sqs_create, name.encode(), ctypes.byref(opts))

    def sqs_queue_url(self, name: str) -> str:
        """The URL of queue name (ERR_NOT_FOUND when there is none)."""
        return self._url_call(_sqs_url, name.encode())

    def sqs_send(self, queue_url: str, body, delay_s: int = 0) -> str:
        """Sends one message (str, or UTF-8 bytes); returns its message id."""
        data = body.encode() if isinstance(body, str) else bytes(body)
        opts = _SqsSendOptions(delay_s)
        return self._url_call(_sqs_send, queue_url.encode(), data, len(data), ctypes.byref(opts))

    def sqs_receive(self, queue_url: str, max_messages: int = 1, wait_s: Optional[int] = None,
                    visibility_timeout_s: Optional[int] = None) -> List[SqsMessage]:
        """Up to max_messages (1..10) messages, waiting up to wait_s (0..20;
        None = the queue's setting) for the first; received messages stay
        invisible for visibility_timeout_s (None = the queue's)."""
        opts = _SqsReceiveOptions(max_messages=max_messages)
        if wait_s is not None:
            opts.wait_s = _seconds(wait_s)
        if visibility_timeout_s is not None:
            opts.visibility_timeout_s = _seconds(visibility_timeout_s)
        err = _Error()
        out = ctypes.POINTER(_SqsMessages)()
        status = _sqs_receive(self._live(), queue_url.encode(), ctypes.byref(opts),
                              ctypes.byref(out), ctypes.byref(err))
        self._check(status, err)
        try:
            return [SqsMessage(out.contents.messages[i]) for i in range(out.contents.count)]
        finally:
            _sqs_messages_free(out)

    def sqs_delete(self, queue_url: str, receipt_handle: str) -> None:
        """Deletes a received message (ERR_INVALID for a bad receipt handle)."""
        err = _Error()
        self._check(_sqs_delete(self._live(), queue_url.encode(), receipt_handle.encode(),
                                ctypes.byref(err)), err)

    def close(self) -> None:
        """Closes the connection and wipes the credentials; further calls
        raise CloudrecError(ERR_STATE). May be called more than once."""
        if self._handle:
            _aws_free(self._handle)
            self._handle = _aws_p()


Session = Aws
