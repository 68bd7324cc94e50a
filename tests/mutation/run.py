#!/usr/bin/env python3
"""Applies each mutation of tests/mutation/mutations.ini to a scratch copy of
the tree, builds it and runs the tests that should catch it; reports caught
or missed per mutation. The working tree is never modified.

    tests/mutation/run.py [--list FILE] [--only NAME ...] [--no-baseline] [--keep]

The scratch copy holds the tracked and untracked (not ignored) files of this
checkout as they are now, so uncommitted changes are included. It gets its
own plain build (and an AddressSanitizer + UBSan build if a mutation asks for
one). First the named tests run unmutated (the baseline: a test that fails
already proves nothing), then each mutation is applied alone, built, its tests
run with pytest's -x (one failure is enough), and the file restored.

A mutation is caught when every test listed for it fails. Exit status 0 when
all are caught, 1 when any is missed or its text no longer matches the
source, 2 on a usage or set-up error. See docs/testing.md.
"""
import argparse
import configparser
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASAN_ARGS = ["-Db_sanitize=address,undefined", "-Db_lundef=false", "-Dbuildtype=debug"]


def log(msg: str):
    print(msg, flush=True)


def load(path: Path) -> list:
    """The mutations of an .ini list, in file order, checked for the keys."""
    cp = configparser.ConfigParser(interpolation=None, delimiters=("=",),
                                   comment_prefixes=("#",), inline_comment_prefixes=None)
    cp.optionxform = str
    cp.read(path)
    out = []
    for name in cp.sections():
        sec = cp[name]
        missing = [k for k in ("file", "from", "to", "tests") if k not in sec]
        if missing:
            raise SystemExit(f"{path}: [{name}] lacks {', '.join(missing)}")
        build = sec.get("build", "plain")
        if build not in ("plain", "asan"):
            raise SystemExit(f"{path}: [{name}] build must be plain or asan, not {build}")
        out.append({"name": name, "file": sec["file"], "from": sec["from"], "to": sec["to"],
                    "tests": sec["tests"].split(), "build": build})
    return out


def copy_tree(dest: Path):
    """Copies the checkout's tracked and untracked, not ignored, files."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, check=True, capture_output=True).stdout.split(b"\0")
    for rel in filter(None, files):
        src = ROOT / os.fsdecode(rel)
        if not src.is_file():  # deleted but still in the index
            continue
        dst = dest / os.fsdecode(rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)


def shared_env() -> dict:
    """The model and SigV4 vectors of this checkout, for the scratch copy
    (whose ../shared is not ours), found as scripts/dev.sh finds them."""
    env = dict(os.environ)
    for var, rel, probe in (("CLOUDREC_MODEL_DIR", "models/tiny-darknet", "tiny.weights"),
                            ("CLOUDREC_TESTDATA", "testdata", None)):
        if env.get(var):
            env[var] = str(Path(env[var]).resolve())
            continue
        cands = [ROOT / rel, ROOT.parent / "shared" / rel, Path("/work/shared") / rel]
        if var == "CLOUDREC_TESTDATA":
            cands = cands[1:]
        for c in cands:
            if (c / probe).is_file() if probe else c.is_dir():
                env[var] = str(c.resolve())
                break
    env["PYTEST_ADDOPTS"] = (env.get("PYTEST_ADDOPTS", "") + " -x").strip()
    return env


class Scratch:
    """The copy and its build directories."""

    def __init__(self, top: Path, env: dict):
        self.src = top / "src"
        self.env = env
        self.built = set()
        self.src.mkdir()
        copy_tree(self.src)

    def builddir(self, kind: str) -> Path:
        return self.src / ("build" if kind == "plain" else "build-asan")

    def compile(self, kind: str) -> tuple:
        """(ok, output tail); configures the build directory on first use."""
        d = self.builddir(kind)
        if kind not in self.built:
            args = ["meson", "setup", str(d)] + (ASAN_ARGS if kind == "asan" else [])
            p = subprocess.run(args, cwd=self.src, env=self.env, capture_output=True, text=True)
            if p.returncode != 0:
                return False, (p.stdout + p.stderr)[-2000:]
            self.built.add(kind)
        p = subprocess.run(["meson", "compile", "-C", str(d)], cwd=self.src, env=self.env,
                           capture_output=True, text=True)
        return p.returncode == 0, (p.stdout + p.stderr)[-2000:]

    def test_names(self, kind: str) -> set:
        p = subprocess.run(["meson", "test", "-C", str(self.builddir(kind)), "--list"],
                           cwd=self.src, env=self.env, capture_output=True, text=True, check=True)
        return {line.rsplit(" / ", 1)[-1].strip() for line in p.stdout.splitlines() if line}

    def failing(self, kind: str, tests: list) -> list:
        """The tests (by name) that fail in this build, each run on its own."""
        failed = []
        for t in tests:
            p = subprocess.run(["meson", "test", "-C", str(self.builddir(kind)), "--no-rebuild",
                                "--print-errorlogs", t],
                               cwd=self.src, env=self.env, capture_output=True, text=True)
            if p.returncode != 0:
                failed.append(t)
        return failed


def apply(scratch: Scratch, m: dict) -> str:
    """Applies a mutation; returns the original text of its file."""
    path = scratch.src / m["file"]
    text = path.read_text()
    count = text.count(m["from"])
    if count != 1:
        raise ValueError(f"{m['file']}: the text to change occurs {count} times, not once")
    path.write_text(text.replace(m["from"], m["to"]))
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", default=str(Path(__file__).with_name("mutations.ini")))
    ap.add_argument("--only", nargs="*", default=None, help="run only these mutations")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the unmutated run (when the suite has just passed)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy")
    a = ap.parse_args()
    mutations = load(Path(a.list))
    if a.only is not None:
        unknown = set(a.only) - {m["name"] for m in mutations}
        if unknown:
            log(f"unknown mutation(s): {', '.join(sorted(unknown))}")
            return 2
        mutations = [m for m in mutations if m["name"] in a.only]
    start = time.monotonic()
    top = Path(tempfile.mkdtemp(prefix="cloudrec-mutation-"))
    results = []
    try:
        scratch = Scratch(top, shared_env())
        log(f"scratch copy in {scratch.src}")
        kinds = sorted({m["build"] for m in mutations})
        for kind in kinds:
            t0 = time.monotonic()
            ok, out = scratch.compile(kind)
            if not ok:
                log(f"the unmutated {kind} build fails:\n{out}")
                return 2
            log(f"{kind} build: {time.monotonic() - t0:.0f} s")
            names = scratch.test_names(kind)
            for m in (m for m in mutations if m["build"] == kind):
                unknown = [t for t in m["tests"] if t not in names]
                if unknown:
                    log(f"[{m['name']}] names unknown tests: {', '.join(unknown)}")
                    return 2
            if not a.no_baseline:
                t0 = time.monotonic()
                wanted = sorted({t for m in mutations if m["build"] == kind for t in m["tests"]})
                bad = scratch.failing(kind, wanted)
                if bad:
                    log(f"baseline ({kind}): these tests fail without any mutation: "
                        f"{', '.join(bad)}")
                    return 2
                log(f"baseline ({kind}): {len(wanted)} tests pass unmutated "
                    f"({time.monotonic() - t0:.0f} s)")
        for m in mutations:
            t0 = time.monotonic()
            try:
                original = apply(scratch, m)
            except ValueError as e:
                results.append((m, "STALE", str(e), 0.0))
                log(f"[{m['name']}] STALE: {e}")
                continue
            try:
                ok, out = scratch.compile(m["build"])
                if not ok:
                    verdict, detail = "BUILD FAILS", (out.strip().splitlines() or [""])[-1]
                else:
                    failed = scratch.failing(m["build"], m["tests"])
                    missed = [t for t in m["tests"] if t not in failed]
                    verdict = "caught" if not missed else "MISSED"
                    detail = (f"failed: {' '.join(failed) or '-'}" +
                              (f"; still passing: {' '.join(missed)}" if missed else ""))
            finally:
                (scratch.src / m["file"]).write_text(original)
            secs = time.monotonic() - t0
            results.append((m, verdict, detail, secs))
            log(f"[{m['name']}] {verdict} in {secs:.0f} s ({detail})")
        # Leave the builds matching the restored sources.
        for kind in sorted(scratch.built):
            scratch.compile(kind)
    finally:
        if a.keep:
            log(f"kept {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)
    caught = sum(1 for r in results if r[1] == "caught")
    log("")
    log(f"{'mutation':28} {'result':12} {'seconds':>7}  tests")
    for m, verdict, detail, secs in results:
        log(f"{m['name']:28} {verdict:12} {secs:7.0f}  {detail}")
    log(f"{caught} of {len(mutations)} mutations caught in {time.monotonic() - start:.0f} s")
    return 0 if caught == len(mutations) else 1


if __name__ == "__main__":
    sys.exit(main())
