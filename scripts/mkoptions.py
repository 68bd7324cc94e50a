#!/usr/bin/env python3
"""mkoptions.py - write the option tables of the docs from the programs' declarations.

    scripts/mkoptions.py [--check] [--build DIR] [FILE.md ...]

Every block of a Markdown file between

    <!-- options: PROGRAM [COMMAND...] -->
    <!-- /options -->

is replaced by a table of PROGRAM's options as `build/tools/PROGRAM
--dump-options` prints them (their one declaration: libcloudrec/core/programs.c).
Files default to docs/*.md. With --check nothing is written: the exit status is
1, naming the stale blocks, when a table differs from the declaration
(tests/integration/test_programs.py runs it so).
"""
import argparse
import glob
import re
import subprocess
import sys
from pathlib import Path

BLOCK = re.compile(r"(<!-- options: ([\w -]+?) -->\n)(.*?)(<!-- /options -->)", re.S)


def md(text: str) -> str:
    """Escapes what would break a table cell or read as HTML."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def table(build: Path, program: str) -> str:
    """The Markdown table of program's declared options ("cloudrec up": a
    command of the cloudrec tool)."""
    tool, *command = program.split()
    out = subprocess.run([str(build / "tools" / tool), *command, "--dump-options"],
                         capture_output=True, text=True, check=True).stdout
    rows = ["| option | default | values | meaning |", "|---|---|---|---|"]
    for line in out.splitlines():
        name, metavar, default, env, values, flags, help_text = line.split("\t")
        flag = f"`{name} {metavar}`" if metavar else f"`{name}`"
        default = "required" if flags == "required" else f"`{default}`" if default else ""
        meaning = md(help_text) + (f" (or `${env}`)" if env else "")
        rows.append(f"| {flag} | {default} | {md(values)} | {meaning} |")
    return "\n".join(rows) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    ap.add_argument("--build", default="build", help="the meson build directory")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    files = args.files or sorted(glob.glob("docs/*.md"))
    stale = []
    for name in files:
        path = Path(name)
        text = path.read_text()
        new = BLOCK.sub(lambda m: m.group(1) + table(Path(args.build), m.group(2)) + m.group(4),
                        text)
        if new != text:
            stale += [f"{name}: {m.group(2)}" for m in BLOCK.finditer(text)]
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print("option tables differ from the declarations (run scripts/mkoptions.py):",
              *stale, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
