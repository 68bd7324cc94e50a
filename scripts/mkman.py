#!/usr/bin/env python3
"""mkman.py - write a man page from what the code itself says.

    mkman.py program --name NAME --summary TEXT --output FILE [options] --program PROGRAM
    mkman.py library --name NAME --summary TEXT --output FILE [options] --umbrella H

`program` runs `PROGRAM --help` and turns its text into a section 1 page:
the usage lines become the SYNOPSIS, the prose the DESCRIPTION, the option
lines the OPTIONS, the `$VARS` it mentions the ENVIRONMENT and its "Exit
status:" sentence the EXIT STATUS. With --commands, PROGRAM is an umbrella
command: every command its "Commands:" list names gets a subsection built
from `PROGRAM COMMAND --help`.

`library` reads the umbrella header and the headers it includes and writes a
section 3 overview: one subsection per header with its top comment and the
CR_API functions it declares.

Nothing here knows a flag: the pages follow the help and the headers. See
docs/man.md.
"""
import argparse
import os
import re
import subprocess
import sys
import time

FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*|--(?=\s|$))")
ENV_VAR = re.compile(r"\$([A-Z][A-Z0-9_]*(?:<[A-Z]+>)?)")
DOC_REF = re.compile(r"(?<![\w/])docs/[\w./-]*[\w/]")
METAVAR = re.compile(r"[A-Z][A-Z0-9_]*(?:\.\.\.)?")


# ---- roff text ----------------------------------------------------------

def esc(text):
    """Escapes plain text for roff: backslash, quotes that groff would
    curl, characters it would draw otherwise, and every hyphen as \\- so
    that flags and paths copy as typed."""
    out = []
    for ch in text:
        out.append({"\\": "\\e", "-": "\\-", "'": "\\(aq", "`": "\\(ga",
                    "~": "\\(ti", "^": "\\(ha"}.get(ch, ch))
    return "".join(out)


def line(text):
    """A text line that roff will not read as a request."""
    text = text.strip()
    return "\\&" + text if text.startswith((".", "'")) else text


def bold(text):
    return "\\fB" + esc(text) + "\\fR"


def italic(text):
    return "\\fI" + esc(text) + "\\fR"


def prose(text):
    """Running text with every flag in bold."""
    out, pos = [], 0
    for m in FLAG.finditer(text):
        out.append(esc(text[pos:m.start()]))
        out.append(bold(m.group(0)))
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def term(text):
    """A usage or option term: flags and the leading command words ("model
    fetch", "s3 mb|put") bold, upper-case metavariables italic, the rest
    (brackets, bars) roman."""
    words = text.split()
    lead_words = 0
    while lead_words < len(words) and re.fullmatch(r"[a-z][\w.|-]*", words[lead_words]):
        lead_words += 1
    out = []
    for i, tok in enumerate(re.split(r"(\s+)", text)):
        if tok.isspace() or not tok:
            out.append(tok)
        elif i // 2 < lead_words:
            out.append(bold(tok))
        else:
            out.append(term_token(tok))
    return "".join(out)


def term_token(tok):
    out, pos = [], 0
    pattern = re.compile(FLAG.pattern + "|" + METAVAR.pattern)
    for m in pattern.finditer(tok):
        if m.start() > 0 and tok[m.start() - 1].isalnum():
            continue
        out.append(esc(tok[pos:m.start()]))
        word = m.group(0)
        out.append(bold(word) if word.startswith("-") else italic(word))
        pos = m.end()
    out.append(esc(tok[pos:]))
    return "".join(out)


# ---- the help text, parsed ----------------------------------------------

class Para:
    def __init__(self, text):
        self.text = text
        self.heading = False  # ends with ':' and introduces a list


class Item:
    def __init__(self, term_text, col, text):
        self.term = term_text
        self.col = col
        self.parts = []  # ["fill", text] or ["pre", [lines]]
        if text:
            self.parts.append(["fill", text])

    def add(self, indent, text):
        """A continuation line: at the text column it is joined to the text,
        deeper it is kept as it is (a preformatted run)."""
        if self.col is None:
            self.col = indent
        if indent > self.col:
            if not self.parts or self.parts[-1][0] != "pre":
                self.parts.append(["pre", []])
            self.parts[-1][1].append(" " * (indent - self.col) + text)
        elif self.parts and self.parts[-1][0] == "fill":
            self.parts[-1][1] += " " + text
        else:
            self.parts.append(["fill", text])

    def text(self):
        """The whole description as one line."""
        return " ".join(p[1] if p[0] == "fill" else " ".join(p[1]) for p in self.parts)


class ItemList:
    def __init__(self, indent):
        self.indent = indent
        self.items = []

    @property
    def options(self):
        return self.items[0].term.startswith("-")


class Help:
    """`usage:` lines and the body after them as paragraphs and item lists."""

    def __init__(self, text):
        lines = text.rstrip("\n").split("\n")
        if not lines or not lines[0].startswith("usage:"):
            raise ValueError("the first line is not 'usage: ...'")
        self.usages = []
        self.blocks = []
        rest = self._usages(lines)
        self._body(rest)

    def _usages(self, lines):
        first = lines[0][len("usage:"):].strip()
        if not first:
            raise ValueError("an empty usage line")
        prog = first.split()[0]
        self.usages.append(first)
        i = 1
        while i < len(lines) and lines[i].startswith(" ") and lines[i].strip():
            text = lines[i].strip()
            if text.split()[0] == prog:
                self.usages.append(text)
            else:
                self.usages[-1] += " " + text
            i += 1
        return lines[i:]

    def _body(self, lines):
        para, items = None, None
        for raw in lines:
            text = raw.strip()
            indent = len(raw) - len(raw.lstrip(" "))
            if not text:
                para, items = None, None
                continue
            col = items.items[-1].col if items is not None else None
            if col is not None and indent > items.indent and indent >= col:
                items.items[-1].add(indent, text)
                continue
            split = self._split_item(raw, indent, items)
            if split:
                if items is None or items.indent != indent:
                    items = ItemList(indent)
                    self.blocks.append(items)
                    if para is not None and para.text.endswith(":"):
                        para.heading = True
                items.items.append(Item(*split))
                para = None
                continue
            if items is not None and indent > items.indent:
                items.items[-1].add(indent, text)
                continue
            items = None
            if para is None:
                para = Para(text)
                self.blocks.append(para)
            else:
                para.text += " " + text

    @staticmethod
    def _split_item(raw, indent, items):
        """(term, description column, text) if raw starts an item."""
        if items is not None and indent == items.indent and indent > 0:
            col = items.items[-1].col
            if col and len(raw) > col and raw[col - 1] == " " and raw[col] != " " \
                    and raw[indent:col].strip():
                return raw[indent:col].strip(), col, raw[col:].strip()
        if indent == 0:
            m = re.match(r"([a-z][\w|.-]*)( {2,})(\S.*)$", raw)
        elif indent <= 6:
            m = re.match(r" *((?:-\S*|[a-z][\w|.-]*)(?: \S+)*?)(?:( {2,})(\S.*))?$", raw)
        else:
            return None
        if not m:
            return None
        if not m.group(2):
            return (m.group(1), None, "") if m.group(1).startswith("-") else None
        return m.group(1), indent + len(m.group(1)) + len(m.group(2)), m.group(3)


def exit_status(text):
    """Splits 'Exit status: ...' out of a paragraph: (rest, status text)."""
    start = text.find("Exit status:")
    if start < 0:
        return text, None
    depth, i = 0, start
    while i < len(text):
        ch = text[i]
        depth += ch == "("
        depth -= ch == ")"
        if ch == "." and depth == 0 and (i + 1 == len(text) or
                                         re.match(r"\s+[A-Z`$]", text[i + 1:])):
            break
        i += 1
    status = text[start + len("Exit status:"):i].strip()
    rest = (text[:start] + text[i + 1:]).strip()
    return rest, status


def status_codes(status):
    """'0 ok, 1 failed (a, b), 2 usage' -> [(code, text)], or None."""
    out, depth, cur = [], 0, ""
    for i, ch in enumerate(status):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0 and re.match(r" \d+ ", status[i + 1:]):
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    pairs = [re.match(r"(\d+) (.*)", s, re.S) for s in out]
    return [m.groups() for m in pairs] if all(pairs) else None


# ---- rendering ----------------------------------------------------------

class Page:
    """A roff page being written, with the environment variables and docs/
    pages its text names (for ENVIRONMENT and SEE ALSO)."""

    def __init__(self, args):
        self.args = args
        self.out = []
        self.env = {}  # VAR -> {context text: [where]}
        self.docs = list(args.doc)

    def emit(self, *lines):
        self.out.extend(lines)

    def header(self):
        """.TH and NAME."""
        a = self.args
        date = ""
        if os.environ.get("SOURCE_DATE_EPOCH"):
            date = time.strftime("%Y-%m-%d", time.gmtime(int(os.environ["SOURCE_DATE_EPOCH"])))
        manual = "User Commands" if a.section == "1" else "Library Functions Manual"
        self.emit('.\\" Generated by scripts/mkman.py from the code; do not edit.',
                  '.TH "%s" "%s" "%s" "%s %s" "%s"' % (esc(a.name.upper()), a.section, date,
                                                       a.source, a.version, manual),
                  # No hyphenation (flags and names must not break), ragged right.
                  ".nr HY 0", ".nh", ".ad l",
                  ".SH NAME", "%s \\- %s" % (esc(a.name), esc(a.summary)))

    def synopsis(self, usage):
        """One .SY block from a usage line (its first word is the program)."""
        words = usage.split()
        self.emit(".SY " + esc(words[0]))
        if len(words) > 1:
            # A bracketed group is never broken across lines.
            bound, depth = "", 0
            for ch in " ".join(words[1:]):
                depth += (ch == "[") - (ch == "]")
                bound += "\x00" if ch == " " and depth > 0 else ch
            self.emit(line(term(bound).replace("\x00", "\\ ")))
        self.emit(".YS")

    def note(self, text, where):
        """Records the $VARS and docs/ pages text names; where is (who, the
        roff text that explains the variable)."""
        for m in DOC_REF.finditer(text):
            if m.group(0) not in self.docs:
                self.docs.append(m.group(0))
        for m in ENV_VAR.finditer(text):
            self.env.setdefault(m.group(1), {}).setdefault(where[1], [])
            if where[0] not in self.env[m.group(1)][where[1]]:
                self.env[m.group(1)][where[1]].append(where[0])

    def para(self, text, who):
        """A prose paragraph of who's help."""
        self.emit(".PP", line(prose(text)))
        for sentence in re.split(r"(?<=\.)\s+(?=[A-Z`$])", text):
            self.note(sentence, (who, prose(sentence)))

    def items(self, items, who):
        """An item list as .TP entries; preformatted runs stay as they are."""
        for item in items.items:
            self.emit(".TP", line(term(item.term)))
            for kind, body in item.parts:
                if kind == "fill":
                    self.emit(line(prose(body)))
                else:
                    self.emit(".nf", *[line(esc(b)) if not b.startswith(" ") else esc(b)
                                       for b in body], ".fi")
            self.note(item.term + " " + item.text(),
                      (who, term(item.term) + ": " + prose(item.text())))

    def blocks(self, blocks, who, drop_headings=("Options:",)):
        """Paragraphs and lists in order; headings the section title already
        says are left out."""
        for b in blocks:
            if isinstance(b, Para):
                if not (b.heading and b.text in drop_headings):
                    self.para(b.text, who)
            else:
                self.items(b, who)

    def exit_section(self, status):
        """EXIT STATUS: one entry per code, or the sentence as it is."""
        if not status:
            return
        self.emit(".SH EXIT STATUS")
        codes = status_codes(status)
        if codes is None:
            self.emit(line(prose(status)))
            return
        for code, text in codes:
            self.emit(".TP", bold(code), line(prose(text)))

    def environment(self, qualify):
        """ENVIRONMENT: each variable with what mentions it (qualify: say
        which command, for a page with several)."""
        if not self.env:
            return
        self.emit(".SH ENVIRONMENT")
        for var in sorted(self.env):
            self.emit(".TP", bold(var))
            for n, (context, where) in enumerate(self.env[var].items()):
                if n:
                    self.emit(".br")
                prefix = ", ".join(bold(w) for w in where) + ": " if qualify else ""
                self.emit(line(prefix + context))

    def see_also(self):
        """The other pages, then the docs/ pages given and named."""
        a = self.args
        me = "%s(%s)" % (a.name, a.section)
        pages = [p for p in a.see if p != me]
        self.emit(".SH SEE ALSO")
        refs = []
        for p in pages:
            m = re.fullmatch(r"(.+)\((\d)\)", p)
            refs.append("\\fB%s\\fR(%s)" % (esc(m.group(1)), m.group(2)))
        if refs:
            self.emit(line(", ".join(refs)))
        if self.docs:
            self.emit(".PP", "In the libcloudrec source tree:")
            for d in self.docs:
                self.emit(".br", line(esc(d)))

    def write(self, path):
        """Writes the page atomically (a failed run leaves no half page)."""
        text = "\n".join(self.out) + "\n"
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)


def run_help(argv):
    """The stdout of `argv --help`; a failure stops the build."""
    env = dict(os.environ, LC_ALL="C")
    res = subprocess.run(argv + ["--help"], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        sys.exit("mkman: %s --help exited %d: %s" % (" ".join(argv), res.returncode,
                                                    res.stderr.strip()))
    return res.stdout


def split_sections(help_):
    """DESCRIPTION (prose, non-option lists) and OPTIONS (from the first
    option list, with the heading before it, to the last); the exit status
    sentence is taken out of the prose."""
    blocks = help_.blocks
    opts = [i for i, b in enumerate(blocks) if isinstance(b, ItemList) and b.options]
    first = opts[0] if opts else len(blocks)
    last = opts[-1] if opts else len(blocks) - 1
    if first > 0 and isinstance(blocks[first - 1], Para) and blocks[first - 1].heading:
        first -= 1
    desc = blocks[:first] + blocks[last + 1:]
    status = None
    kept = []
    for b in desc:
        if isinstance(b, Para):
            rest, found = exit_status(b.text)
            status = status or found
            if not rest:
                continue
            heading, b = b.heading, Para(rest)
            b.heading = heading
        kept.append(b)
    return kept, blocks[first:last + 1], status


def program_page(args):
    """A section 1 page from args.program's --help."""
    page = Page(args)
    try:
        help_ = Help(run_help([args.program]))
    except ValueError as e:
        sys.exit("mkman: %s --help: %s" % (args.program, e))
    prog = os.path.basename(args.program)
    page.header()
    page.emit(".SH SYNOPSIS")
    commands = []
    if args.commands:
        listed = command_list(help_)
        page.synopsis(help_.usages[0])
        for item in listed:
            page.synopsis(prog + " " + item.term)
        words = [item.term.split()[0] for item in listed]
        commands = [item for i, item in enumerate(listed) if words.index(words[i]) == i]
    else:
        for usage in help_.usages:
            page.synopsis(usage)
    desc, opts, status = split_sections(help_)
    page.emit(".SH DESCRIPTION")
    page.blocks(desc, prog, drop_headings=("Commands:",))
    if opts:
        page.emit(".SH OPTIONS")
        page.blocks(opts, prog)
    if commands:
        page.emit(".SH COMMANDS")
        for item in commands:
            command_section(page, [args.program], item)
    page.environment(qualify=bool(commands))
    page.exit_section(status)
    page.see_also()
    return page


def command_list(help_):
    """The items of the list headed "Commands:" (a command may have several)."""
    for i, b in enumerate(help_.blocks):
        if isinstance(b, Para) and b.text == "Commands:" and i + 1 < len(help_.blocks):
            return help_.blocks[i + 1].items
    sys.exit("mkman: --commands: the help has no Commands: list")


def command_section(page, program, item):
    """One subsection from `PROGRAM COMMAND --help`, in the help's order; a
    command without a help of its own is described by its Commands: line."""
    word = item.term.split()[0]
    who = os.path.basename(program[0]) + " " + word
    page.emit('.SS "%s"' % esc(who))
    try:
        sub = Help(run_help(program + [word]))
    except ValueError:
        page.synopsis(who)
        page.emit(".PP", line(prose(item.text()[:1].upper() + item.text()[1:] + ".")))
        return
    for usage in sub.usages:
        page.synopsis(usage)
    page.blocks(sub.blocks, who)


# ---- libcloudrec(3) from the headers ------------------------------------

def top_comment(text):
    """The lines of the first /* */ comment of a file, without the ' * '."""
    m = re.match(r"\s*/\*(.*?)\*/", text, re.S)
    if not m:
        return []
    return [re.sub(r"^ ?\* ?", "", l.rstrip()) for l in m.group(1).strip("\n").split("\n")]


def comment_blocks(lines):
    """Paragraphs, '- ' bullets and indented (preformatted) runs."""
    blocks, cur = [], None
    for l in lines:
        text = l.strip()
        indent = len(l) - len(l.lstrip())
        if not text:
            cur = None
        elif text.startswith("- ") and indent <= 2:
            cur = ["bullet", text[2:]]
            blocks.append(cur)
        elif cur and cur[0] == "bullet" and indent > 0:
            cur[1] += " " + text
        elif indent >= 2:
            if not cur or cur[0] != "pre":
                cur = ["pre", []]
                blocks.append(cur)
            cur[1].append(l)
        elif cur and cur[0] == "para":
            cur[1] += " " + text
        else:
            cur = ["para", text]
            blocks.append(cur)
    return blocks


def header_section(page, name, text):
    """A subsection for header name; returns the CR_API functions it lists."""
    lines = top_comment(text)
    if lines and lines[0].startswith(name + " - "):
        lines[0] = lines[0][len(name) + 3:]
        lines[0] = lines[0][:1].upper() + lines[0][1:]
    page.emit('.SS "<%s>"' % esc(name))
    first = True
    for kind, body in comment_blocks(lines):
        if kind == "pre":
            page.emit(".PP" if not first else "", ".nf",
                      *[esc(b[2:]) for b in body], ".fi")
        elif kind == "bullet":
            page.emit(".IP \\(bu 2", line(esc(body)))
        else:
            page.emit(".PP", line(esc(body)))
        first = False
        for m in DOC_REF.finditer(body if isinstance(body, str) else " ".join(body)):
            if m.group(0) not in page.docs:
                page.docs.append(m.group(0))
    funcs = []
    for m in re.finditer(r"^CR_API\b[^;{]*?\b(cr_\w+)\s*\(", text, re.M):
        if m.group(1) not in funcs:
            funcs.append(m.group(1))
    if funcs:
        page.emit(".PP", "Functions: " + ", ".join(bold(f) + "()" for f in funcs) + ".")
    return funcs


def library_page(args, deps):
    """The section 3 page; appends every header read to deps."""
    page = Page(args)
    root = os.path.dirname(args.umbrella)
    with open(args.umbrella, encoding="utf-8") as f:
        umbrella = f.read()
    deps.append(args.umbrella)
    names = re.findall(r'^#include "(cloudrec/[\w.]+\.h)"', umbrella, re.M)
    hdr_dir = os.path.join(root, "cloudrec")
    for extra in sorted(os.listdir(hdr_dir)):
        if extra.endswith(".h") and "cloudrec/" + extra not in names:
            names.append("cloudrec/" + extra)
    page.header()
    page.emit(".SH SYNOPSIS", ".nf", "\\fB#include <cloudrec.h>\\fR", "",
              esc("cc prog.c $(pkg-config --cflags --libs libcloudrec)"), ".fi",
              ".SH DESCRIPTION", ".PP",
              line(esc(args.name) + " is the C library the cloudrec programs are made of. "
                   "<cloudrec.h> includes every header below; each can also be included "
                   "on its own. The sections follow the headers' own comments, which, "
                   "with the comment above each declaration, are the reference."))
    total = 0
    for name in names:
        path = os.path.join(root, name)
        deps.append(path)
        with open(path, encoding="utf-8") as f:
            total += len(header_section(page, name, f.read()))
    if total == 0:
        sys.exit("mkman: no CR_API function found under " + root)
    page.emit(".SH FILES", ".TP", esc(os.path.join(args.includedir, "cloudrec.h")),
              "the umbrella header", ".TP", esc(os.path.join(args.includedir, "cloudrec/")),
              "one header per module", ".TP", esc(os.path.join(args.libdir, "libcloudrec.so")),
              "the shared library (a static libcloudrec.a too)", ".TP",
              esc(os.path.join(args.libdir, "pkgconfig", "libcloudrec.pc")),
              "compiler and linker flags for pkg\\-config")
    page.see_also()
    return page


def main():
    """Command line: see the module's docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["program", "library"])
    ap.add_argument("--name", required=True)
    ap.add_argument("--section", default="1")
    ap.add_argument("--summary", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--version", default="")
    ap.add_argument("--source", default="libcloudrec")
    ap.add_argument("--see", action="append", default=[], help="another page, name(N)")
    ap.add_argument("--doc", action="append", default=[], help="a docs/ page to point to")
    ap.add_argument("--commands", action="store_true")
    ap.add_argument("--umbrella")
    ap.add_argument("--includedir", default="/usr/include")
    ap.add_argument("--libdir", default="/usr/lib")
    ap.add_argument("--depfile")
    ap.add_argument("--program", help="the program whose --help is read")
    args = ap.parse_args()
    deps = []
    if args.kind == "program":
        if not args.program:
            ap.error("program: --program is required")
        page = program_page(args)
    else:
        if not args.umbrella:
            ap.error("library: --umbrella is required")
        page = library_page(args, deps)
    page.write(args.output)
    if args.depfile:
        with open(args.depfile, "w", encoding="utf-8") as f:
            f.write("%s: %s\n" % (args.output.replace(" ", "\\ "),
                                  " ".join(d.replace(" ", "\\ ") for d in deps)))


if __name__ == "__main__":
    main()
