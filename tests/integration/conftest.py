"""Shared fixtures for the integration tests.

The tests run from the project root (meson sets the working directory), find
the built programs through CLOUDREC_CLI / CLOUDREC_LIB, and the model the way
a user's command would (./models/tiny-darknet, ../shared/models/tiny-darknet or
$CLOUDREC_MODEL_DIR).
"""
import os
import re
import socket
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

DARKNET_DATA = Path("/usr/share/darknet/data")
DARKNET_CFG = Path("/usr/share/darknet/cfg")


def _model_dir() -> Path:
    for cand in (os.environ.get("CLOUDREC_MODEL_DIR"), "models/tiny-darknet",
                 "../shared/models/tiny-darknet"):
        if cand and (Path(cand) / "tiny.weights").is_file():
            return Path(cand).resolve()
    raise RuntimeError("no model: set CLOUDREC_MODEL_DIR or run `cloudrec model fetch`")


@pytest.fixture(scope="session")
def cli() -> str:
    path = os.environ.get("CLOUDREC_CLI")
    assert path and os.access(path, os.X_OK), "CLOUDREC_CLI must name the built cloudrec"
    return path


def build_path(*parts) -> str:
    """A path inside the build directory (meson test sets CLOUDREC_BUILD_ROOT)."""
    root = os.environ.get("CLOUDREC_BUILD_ROOT")
    assert root, "CLOUDREC_BUILD_ROOT must name the build directory (run through meson test)"
    return str(Path(root, *parts))


def program(env_name: str, *build_parts) -> str:
    """A built program: $env_name when set, else build_parts in the build directory."""
    path = os.environ.get(env_name) or build_path(*build_parts)
    assert os.access(path, os.X_OK), f"{env_name}: {path} is not executable"
    return path


@pytest.fixture(scope="session")
def worker_bin() -> str:
    return program("CLOUDREC_WORKER", "tools", "cloudrec-worker")


@pytest.fixture(scope="session")
def scaler_bin() -> str:
    return program("CLOUDREC_SCALER", "tools", "cloudrec-scaler")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return _model_dir()


@pytest.fixture(scope="session")
def sample_images() -> list:
    images = sorted(DARKNET_DATA.glob("*.jpg"))
    assert len(images) >= 5, "Darknet's sample images are missing (apt-get install darknet)"
    return images


@pytest.fixture(scope="session")
def tiny_cfg_batch1(tmp_path_factory) -> Path:
    """Darknet's tiny.cfg with the [net] batch set to 1, for the stock command."""
    text = (DARKNET_CFG / "tiny.cfg").read_text()
    text = re.sub(r"(?m)^batch=\d+", "batch=1", text)
    text = re.sub(r"(?m)^subdivisions=\d+", "subdivisions=1", text)
    path = tmp_path_factory.mktemp("cfg") / "tiny-batch1.cfg"
    path.write_text(text)
    return path


def run(args, **kw):
    """Runs a command, capturing text output; never raises on exit status."""
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on right now (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png_bytes(width: int, height: int, color_type: int = 2, bit_depth: int = 8,
              rows: bytes = None) -> bytes:
    """A minimal valid PNG (RGB by default), written by hand with zlib."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    if rows is None:
        channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
        row = bytes([0]) + bytes((x * 7) % 256 for x in range(width * channels))
        rows = row * height
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


# One moto server (signatures checked) per test module that asks for it, and
# the environment that points the tools at it. A module that needs another
# kind of server defines its own `moto` fixture, which takes precedence.
@pytest.fixture(scope="module")
def moto():
    from moto_server import MotoServer
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="module")
def env(moto):
    return moto.env()
