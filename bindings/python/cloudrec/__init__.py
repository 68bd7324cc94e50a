"""libcloudrec from Python, through ctypes (no compiled extension).

    import cloudrec
    with cloudrec.Classifier() as clf:            # default model lookup
        print(clf.classify_file("dog.jpg", top=3))   # [("malamute", 0.1418), ...]

The shared library is $CLOUDREC_LIB when that is set (nothing else is tried);
otherwise the system loader's libcloudrec.so (installed by `meson install`),
then the build*/ directories of the source checkout this file lives in. Errors raise CloudrecError, which carries the
library's status code, its name and the one-line message.
"""
import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import List, Optional, Tuple, Union

__all__ = ["Classifier", "CloudrecError", "version", "model_paths"]

_LABEL_MAX = 128
_PATH_MAX = 4096


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


class _ImageLimits(ctypes.Structure):
    _fields_ = [("max_bytes", ctypes.c_size_t), ("max_pixels", ctypes.c_uint64)]


class _ClassifierOptions(ctypes.Structure):
    _fields_ = [
        ("cfg_path", ctypes.c_char_p),
        ("weights_path", ctypes.c_char_p),
        ("names_path", ctypes.c_char_p),
        ("darknet_lib", ctypes.c_char_p),
        ("limits", _ImageLimits),
    ]


class CloudrecError(Exception):
    """A libcloudrec call failed: `status` (int), `name` ("ERR_FORMAT"), `message`."""

    def __init__(self, status: int, name: str, message: str):
        super().__init__(f"{message} [{name}]")
        self.status = status
        self.name = name
        self.message = message


def _candidates():
    env = os.environ.get("CLOUDREC_LIB")
    if env:
        yield env
        return
    found = ctypes.util.find_library("cloudrec")
    if found:
        yield found
    root = Path(__file__).resolve().parents[3]
    for build in sorted(root.glob("build*")):
        yield str(build / "libcloudrec" / "libcloudrec.so")


def _load():
    tried = []
    for cand in _candidates():
        try:
            return ctypes.CDLL(cand)
        except OSError as exc:
            tried.append(f"{cand} ({exc})")
    raise OSError("libcloudrec.so not found; set CLOUDREC_LIB. Tried: " + "; ".join(tried))


_lib = _load()


def _declare(name, restype, *argtypes):
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
_model_resolve = _declare("cr_model_resolve", _status, ctypes.c_char_p,
                          ctypes.POINTER(_ModelPaths), _err_p)
_open = _declare("cr_classifier_open", _status, ctypes.POINTER(_ClassifierOptions),
                 ctypes.POINTER(_cl_p), _err_p)
_free = _declare("cr_classifier_free", None, _cl_p)
_num_classes = _declare("cr_classifier_num_classes", ctypes.c_int, _cl_p)
_classify_bytes = _declare("cr_classify_bytes", _status, _cl_p, ctypes.c_char_p,
                           ctypes.c_size_t, _pred_p, ctypes.c_size_t, _size_p, _err_p)
_classify_file = _declare("cr_classify_file", _status, _cl_p, ctypes.c_char_p, _pred_p,
                          ctypes.c_size_t, _size_p, _err_p)


def _raise(status: int, err: _Error):
    name = _status_name(status).decode()
    message = err.message.decode(errors="replace") or _strerror(status).decode()
    raise CloudrecError(status, name, message)


def _path_arg(p: Union[str, os.PathLike, None]) -> Optional[bytes]:
    return None if p is None else os.fsencode(p)


def version() -> str:
    """The library's version string."""
    return _version().decode()


def model_paths(model_dir: Union[str, os.PathLike, None] = None) -> dict:
    """The model files that would be used: dir, cfg, weights, names."""
    paths, err = _ModelPaths(), _Error()
    status = _model_resolve(_path_arg(model_dir), ctypes.byref(paths), ctypes.byref(err))
    if status:
        _raise(status, err)
    return {name: getattr(paths, name).decode() for name, _ in _ModelPaths._fields_}


class Classifier:
    """One Darknet network. Not thread-safe: use one Classifier per thread.

    model_dir follows the library's lookup (argument, $CLOUDREC_MODEL_DIR,
    ./models/tiny-darknet, ../shared/models/tiny-darknet); cfg, weights and
    names override single files (when all three are given, model_dir is not
    used). max_bytes / max_pixels bound decoding (0 = library default).
    """

    def __init__(self, model_dir=None, *, cfg=None, weights=None, names=None,
                 max_bytes: int = 0, max_pixels: int = 0):
        paths = model_paths(model_dir) if weights is None or cfg is None or names is None else {}
        self._keep = [os.fsencode(cfg or paths["cfg"]), os.fsencode(weights or paths["weights"]),
                      os.fsencode(names or paths["names"])]
        opts = _ClassifierOptions(self._keep[0], self._keep[1], self._keep[2], None,
                                  _ImageLimits(max_bytes, max_pixels))
        self._handle = _cl_p()
        err = _Error()
        status = _open(ctypes.byref(opts), ctypes.byref(self._handle), ctypes.byref(err))
        if status:
            _raise(status, err)

    @property
    def num_classes(self) -> int:
        return _num_classes(self._live())

    def _live(self):
        if not self._handle:
            raise CloudrecError(15, "ERR_STATE", "classifier is closed")
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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
