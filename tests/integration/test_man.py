"""The man pages (docs/man.md): each renders with man(1) and groff without a
warning, lists every flag its program's --help lists (cloudrec(1): every
command's too, in that command's subsection), libcloudrec(3) names every
exported function, and `DESTDIR=... meson install` lays out all six."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(os.environ.get("CLOUDREC_SOURCE_ROOT", "."))
BUILD = Path(os.environ["CLOUDREC_BUILD_ROOT"])
MAN = BUILD / "man"
PROGRAMS = {
    "cloudrec": os.environ["CLOUDREC_CLI"],
    "cloudrec-web": os.environ["CLOUDREC_WEB"],
    "cloudrec-worker": os.environ["CLOUDREC_WORKER"],
    "cloudrec-scaler": os.environ["CLOUDREC_SCALER"],
    "cloudrec-load": os.environ["CLOUDREC_LOAD"],
}
PAGES = [name + ".1" for name in PROGRAMS] + ["libcloudrec.3"]
FLAG = re.compile(r"--[a-z0-9-]+")


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed (scripts/dev.sh installs man-db and groff-base)"
    return path


def render(page: Path, *args: str) -> str:
    """The page as `man` shows it, 100 columns wide, without formatting."""
    env = dict(os.environ, MANWIDTH="100", LANG="C.UTF-8", MANPAGER="cat", PAGER="cat")
    env.pop("MAN_KEEP_FORMATTING", None)
    # man-db filters its groff children through seccomp, which some container
    # runtimes refuse (the call fails with status 159); the pages are ours.
    env["MAN_DISABLE_SECCOMP"] = "1"
    res = subprocess.run([tool("man"), *args, str(page)], env=env, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stderr.lower(), res.stderr
    assert res.stdout.strip(), f"man {page} printed nothing"
    return res.stdout


def help_text(*argv: str) -> str:
    res = subprocess.run([*argv, "--help"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout


def has_flag(text: str, flag: str) -> bool:
    return re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", text) is not None


def sections(rendered: str) -> dict:
    """Section title -> its text, from the rendered page."""
    out, title = {}, None
    for line in rendered.split("\n"):
        if re.match(r"[A-Z][A-Z ]+$", line):
            title = line
            out[title] = ""
        elif title:
            out[title] += line + "\n"
    return out


def subsection(rendered: str, title: str) -> str:
    """The text of a .SS subsection (its title indented by 3 columns)."""
    lines = rendered.split("\n")
    start = lines.index("   " + title) + 1
    end = start
    while end < len(lines) and not re.match(r"( {3})?\S", lines[end]):
        end += 1
    return "\n".join(lines[start:end])


def commands() -> list:
    """The command words `cloudrec --help` lists under Commands:."""
    text = help_text(PROGRAMS["cloudrec"])
    block = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    words = re.findall(r"^  ([a-z][a-z0-9]*) ", block, re.M) + \
        re.findall(r"^  ([a-z][a-z0-9]*)$", block, re.M)
    assert len(words) >= 9, block
    return sorted(set(words), key=words.index)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_cleanly(page):
    path = MAN / page
    assert path.is_file(), f"{path} was not built"
    res = subprocess.run([tool("groff"), "-man", "-Tutf8", "-ww", "-z", str(path)],
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    parts = sections(render(path, "-l"))
    expected = ["NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"]
    expected += ["OPTIONS", "EXIT STATUS"] if page.endswith(".1") else []
    for title in expected:
        assert parts.get(title, "").strip(), f"{page}: no {title} section"
    name = page.rsplit(".", 1)[0]
    assert parts["NAME"].strip().startswith(name + " - ")
    # mandb reads the same NAME line for whatis and apropos.
    res = subprocess.run([tool("lexgrog"), str(path)], capture_output=True, text=True)
    assert res.returncode == 0 and f'"{name} - ' in res.stdout, res.stdout + res.stderr


@pytest.mark.parametrize("page", PAGES)
def test_source_escapes_hyphens_and_dots(page):
    """Every '-' is \\- (flags copy as typed) and no text line starts with a
    control character roff would take for a request."""
    for n, line in enumerate((MAN / page).read_text().split("\n"), 1):
        if line.startswith('.\\"'):
            continue
        assert not re.search(r"(?<!\\)-", line), f"{page}:{n}: unescaped '-': {line}"
        assert not line.startswith("'"), f"{page}:{n}: {line}"


@pytest.mark.parametrize("name", [n for n in PROGRAMS if n != "cloudrec"])
def test_every_flag_of_the_help_is_in_the_page(name):
    text = help_text(PROGRAMS[name])
    flags = sorted(set(FLAG.findall(text)))
    assert "--help" in flags and len(flags) >= 10, flags
    rendered = render(MAN / (name + ".1"), "-l")
    missing = [f for f in flags if not has_flag(rendered, f)]
    assert not missing, f"{name}(1) lacks {missing}"
    # Each option line of the help is an entry of OPTIONS.
    options = sections(rendered)["OPTIONS"]
    for flag in re.findall(r"^ {2}(--[a-z0-9-]+)", text, re.M):
        assert re.search(r"^ {7}" + re.escape(flag) + r"(?![\w-])", options, re.M), \
            f"{name}(1): {flag} is not an OPTIONS entry"
    if "Exit status:" in text:
        codes = re.findall(r"(\d) ", text.split("Exit status:", 1)[1].split(".")[0])
        status = sections(rendered)["EXIT STATUS"]
        assert codes and all(re.search(r"^ {7}" + c + r"\b", status, re.M) for c in codes)


def test_cloudrec_page_has_every_command_and_its_flags():
    rendered = render(MAN / "cloudrec.1", "-l")
    main = help_text(PROGRAMS["cloudrec"])
    missing = [f for f in set(FLAG.findall(main)) if not has_flag(rendered, f)]
    assert not missing, f"cloudrec(1) lacks {missing}"
    words = commands()
    assert {"classify", "model", "up", "setup", "s3", "sqs", "ec2", "simulate",
            "version"} <= set(words)
    for word in words:
        section = subsection(rendered, "cloudrec " + word)
        sub = help_text(PROGRAMS["cloudrec"], word)
        if not sub.startswith("usage:"):
            # A command without a help of its own (version) is described by
            # its line of the Commands: list.
            assert "cloudrec " + word in section
            continue
        flags = set(FLAG.findall(sub))
        assert flags, word
        missing = [f for f in flags if not has_flag(section, f)]
        assert not missing, f"cloudrec(1), section cloudrec {word}, lacks {missing}"


def test_environment_lists_the_variables_the_help_names():
    for name, program in PROGRAMS.items():
        texts = [help_text(program)]
        if name == "cloudrec":
            texts += [help_text(program, w) for w in commands()]
        names = set(re.findall(r"\$([A-Z][A-Z0-9_]+)", "\n".join(texts)))
        env = sections(render(MAN / (name + ".1"), "-l")).get("ENVIRONMENT", "")
        for var in names:
            assert re.search(r"^ {7}" + var + r"\b", env, re.M), f"{name}(1) lacks ${var}"


def test_library_page_names_every_exported_function():
    lib = os.environ["CLOUDREC_LIB"]
    res = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    exported = [l.split()[2] for l in res.stdout.splitlines() if l.split()[1] == "T"]
    assert len(exported) > 20
    rendered = render(MAN / "libcloudrec.3", "-l")
    missing = [f for f in exported if f + "()" not in rendered]
    assert not missing, f"libcloudrec(3) lacks {missing}"
    headers = sorted(p.name for p in (SOURCE / "include" / "cloudrec").glob("*.h"))
    for h in headers:
        assert "   <cloudrec/" + h + ">" in rendered, f"libcloudrec(3) has no section for {h}"


@pytest.mark.parametrize("page", PAGES)
def test_docs_the_pages_point_to_exist(page):
    rendered = render(MAN / page, "-l")
    for ref in set(re.findall(r"(?<![\w/])docs/[\w./-]*[\w/]", rendered)):
        assert (SOURCE / ref).exists(), f"{page} points to {ref}, which does not exist"


def test_destdir_install_lays_out_the_six_pages(tmp_path):
    meson = shutil.which("meson")
    assert meson, "meson is not on PATH"
    res = subprocess.run([meson, "introspect", "--buildoptions", str(BUILD)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    opts = {o["name"]: o["value"] for o in json.loads(res.stdout)}
    dest = tmp_path / "dest"
    res = subprocess.run([meson, "install", "-C", str(BUILD), "--no-rebuild", "--quiet"],
                         env=dict(os.environ, DESTDIR=str(dest)), capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    mandir = Path(str(dest) + opts["prefix"]) / opts["mandir"]
    installed = sorted(str(p.relative_to(mandir)) for p in mandir.rglob("*") if p.is_file())
    assert installed == sorted(["man1/" + p for p in PAGES if p.endswith(".1")] +
                               ["man3/libcloudrec.3"])
    for rel in installed:
        assert (mandir / rel).read_bytes() == (MAN / Path(rel).name).read_bytes()
        render(mandir / rel, "-l")
    # `man cloudrec` finds the installed page once its man directory is searched.
    text = render(Path("cloudrec-web"), "--manpath=" + str(mandir))
    assert "CLOUDREC-WEB(1)" in text and "--scaler-status" in text
