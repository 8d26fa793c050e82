"""A line-based approximation of `terraform fmt` (hashicorp/hcl hclwrite/format.go).

It reproduces the two layout rules fmt enforces and that hand-written HCL most often breaks:

* indentation: two spaces per open bracket, computed per line from the net bracket change
  with the same indent stack as hclwrite's ``formatIndent``;
* alignment: in every run of consecutive lines that each hold a complete single-line
  ``name = value`` assignment, the ``=`` signs line up one space after the longest name
  (hclwrite's ``formatCells``), with exactly one space after ``=``;

plus no tabs, no trailing whitespace, no CRLF and exactly one trailing newline. Heredocs are
not supported (the code base avoids them); they are reported as findings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPENERS = "{[("
CLOSERS = "}])"


@dataclass
class Line:
    """What the formatter needs to know about one source line."""

    text: str
    net: int
    eq_col: int | None
    blank: bool


def scan(text: str) -> list[Line]:
    """Split `text` into lines with their bracket balance and assignment column."""
    out: list[Line] = []
    stack: list[str] = []  # "str" (inside a quoted string), "interp" or "brace"
    in_block_comment = False
    for raw in text.split("\n"):
        net = 0
        eq_col = None
        eq_net = 0
        seen_code = False
        i = 0
        n = len(raw)
        while i < n:
            c = raw[i]
            nxt = raw[i + 1] if i + 1 < n else ""
            top = stack[-1] if stack else None
            if in_block_comment:
                if c == "*" and nxt == "/":
                    in_block_comment = False
                    i += 2
                    continue
                i += 1
                continue
            if top == "str":
                if c == "\\":
                    i += 2
                    continue
                if c == '"':
                    stack.pop()
                elif c in "$%" and nxt == "{":
                    if i > 0 and raw[i - 1] == c:
                        i += 2  # "$${" and "%%{" are escaped literals
                        continue
                    stack.append("interp")
                    net += 1
                    if eq_col is not None:
                        eq_net += 1
                    i += 2
                    continue
                i += 1
                continue
            # code
            if c == "#" or (c == "/" and nxt == "/"):
                break
            if c == "/" and nxt == "*":
                in_block_comment = True
                i += 2
                continue
            if not c.isspace():
                first_token = not seen_code
                seen_code = True
            else:
                i += 1
                continue
            if c == '"':
                stack.append("str")
            elif c == "<" and nxt == "<" and re.match(r"-?[A-Za-z_]", raw[i + 2 :]):
                raise ValueError(f"heredoc at line {len(out) + 1}: not supported by this checker")
            elif c in OPENERS:
                stack.append("brace")
                net += 1
                if eq_col is not None:
                    eq_net += 1
            elif c in CLOSERS:
                if stack:
                    stack.pop()
                net -= 1
                if eq_col is not None:
                    eq_net -= 1
            elif c == "=":
                prev = raw[i - 1] if i > 0 else ""
                # The first `=` of the line that is not part of ==, !=, <=, >= or =>, and not
                # the line's first token: hclwrite looks at one line's tokens only.
                if nxt not in "=>" and prev not in "=!<>" and eq_col is None and not first_token:
                    eq_col = i
                    eq_net = 0
            i += 1
        has_assign = eq_col is not None and eq_net == 0
        out.append(Line(raw, net, eq_col if has_assign else None, raw.strip() == ""))
    return out


def expected(lines: list[Line]) -> list[str]:
    """The lines as fmt would lay them out (indentation and `=` alignment)."""
    indents: list[int] = []
    result: list[str] = []
    for ln in lines:
        body = ln.text.strip()
        if not body:
            result.append("")
            continue
        if ln.net > 0:
            level = len(indents)
            indents.append(ln.net)
        elif ln.net < 0:
            closed = -ln.net
            while closed > 0 and indents:
                if closed > indents[-1]:
                    closed -= indents.pop()
                elif closed < indents[-1]:
                    indents[-1] -= closed
                    closed = 0
                else:
                    indents.pop()
                    closed = 0
            level = len(indents)
        else:
            level = len(indents)
        result.append("  " * level + body)
    # alignment of `=` in runs of consecutive assignment lines
    i = 0
    while i < len(lines):
        if lines[i].eq_col is None:
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].eq_col is not None:
            j += 1
        parts = []
        for k in range(i, j):
            raw = lines[k].text
            key = raw[: lines[k].eq_col].strip()
            value = raw[lines[k].eq_col + 1 :].strip()
            indent = result[k][: len(result[k]) - len(result[k].lstrip(" "))]
            parts.append((k, indent, key, value))
        width = max(len(p[1]) + len(p[2]) for p in parts)
        for k, indent, key, value in parts:
            lead = indent + key
            result[k] = lead + " " * (width - len(lead) + 1) + "=" + (" " + value if value else "")
        i = j
    return result


def format_text(text: str) -> str:
    """Return `text` laid out as described in the module docstring."""
    text = text.replace("\r\n", "\n").replace("\t", "  ")
    lines = [ln.rstrip() for ln in text.rstrip("\n").split("\n")]
    formatted = expected(scan("\n".join(lines)))
    return "\n".join(formatted) + "\n"


def findings(text: str, name: str = "<text>") -> list[str]:
    """Every place where `text` differs from what fmt would write, as `name:line: reason`."""
    problems = []
    if "\t" in text:
        problems.append(f"{name}: contains a tab")
    if "\r" in text:
        problems.append(f"{name}: contains a carriage return")
    if not text.endswith("\n") or text.endswith("\n\n"):
        problems.append(f"{name}: must end with exactly one newline")
    try:
        want = format_text(text).split("\n")
    except ValueError as err:
        return problems + [f"{name}: {err}"]
    have = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    for idx, (h, w) in enumerate(zip(have, want), start=1):
        if h != w:
            problems.append(f"{name}:{idx}: expected {w!r}, found {h!r}")
    return problems


if __name__ == "__main__":
    import sys

    # `python hclfmt.py --write FILE...` rewrites files in place (a stand-in for terraform fmt).
    write = "--write" in sys.argv
    status = 0
    for path in [a for a in sys.argv[1:] if a != "--write"]:
        with open(path, encoding="utf-8") as fh:
            src = fh.read()
        if write:
            new = format_text(src)
            if new != src:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(new)
                print(f"formatted {path}")
        else:
            for problem in findings(src, path):
                status = 1
                print(problem)
    sys.exit(status)
