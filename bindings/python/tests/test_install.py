"""The package as users get it: `meson install` (into a DESTDIR) and
`pip install bindings/python`, each imported in a fresh interpreter with only
PYTHONPATH pointing at it - no LD_LIBRARY_PATH, no CLOUDREC_LIB."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1]  # bindings/python
DOG = "/usr/share/darknet/data/dog.jpg"
# Prints the label of dog.jpg and the file the library was loaded from.
PROBE = f"""
import cloudrec
with cloudrec.Classifier() as clf:
    print(clf.classify_file({DOG!r}, top=1)[0][0])
print(cloudrec.__file__)
print(next(l.split()[-1] for l in open('/proc/self/maps') if 'libcloudrec' in l))
"""


def bare_env(pythonpath: Path, **extra) -> dict:
    """The environment of a user's shell: no library paths of ours. The
    ASan runtime preload of a sanitizer build is kept (python is not
    instrumented)."""
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "HOME", "LANG", "CLOUDREC_MODEL_DIR", "LD_PRELOAD", "ASAN_OPTIONS",
                    "UBSAN_OPTIONS")}
    env.update(PYTHONPATH=str(pythonpath), PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def probe(env: dict) -> list:
    res = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         cwd=os.environ.get("CLOUDREC_SOURCE_ROOT", "."))
    assert res.returncode == 0, res.stderr
    return res.stdout.split("\n")


def test_meson_install_finds_its_library(tmp_path):
    meson = shutil.which("meson")
    assert meson, "meson is not on PATH"
    dest = tmp_path / "dest"
    res = subprocess.run([meson, "install", "-C", os.environ["CLOUDREC_BUILD_ROOT"], "--no-rebuild",
                          "--quiet", "--destdir", str(dest)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    site = Path(str(dest) + os.environ["CLOUDREC_PY_SITE"])
    package = site / "cloudrec"
    assert (package / "__init__.py").is_file() and (package / "py.typed").is_file()
    assert (package / "_paths.py").is_file()
    label, module, lib = probe(bare_env(site))[:3]
    assert label == "malamute"
    assert Path(module).resolve().parent == package.resolve()
    # The library came from the same DESTDIR, not from the build tree.
    assert Path(lib).resolve().is_relative_to(dest.resolve()), lib


def test_pip_install(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SOURCE, src, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    target = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                          "--no-build-isolation", "--no-index", "--target", str(target),
                          str(src)], capture_output=True, text=True)
    if "No module named" in res.stderr and ("setuptools" in res.stderr or "wheel" in res.stderr):
        pytest.fail("pip needs setuptools and wheel to build the package: " + res.stderr)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (target / "cloudrec" / "py.typed").is_file()
    assert not (target / "cloudrec" / "_paths.py").exists()  # only meson install writes it
    # A pip-installed package uses the system's library; here the build's.
    label, module, lib = probe(bare_env(target, CLOUDREC_LIB=os.environ["CLOUDREC_LIB"]))[:3]
    assert label == "malamute"
    assert Path(module).resolve().is_relative_to(target.resolve())
