"""Inputs and outputs tables of a module README, generated from the HCL (terraform-docs style).

`python tfdocs.py --write ../modules/*` rewrites the part of each README.md between
`<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->`; test_docs.py checks that it is current.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import invariants as inv

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"


def _type(name: str, lines: list[str]) -> str:
    """The type expression as written in variable `name`, on one line (read from the source
    text, so the result does not depend on the parser's rendering of expressions)."""
    header = f'variable "{name}" {{'
    start = next(i for i, line in enumerate(lines) if line.strip() == header)
    collected, depth = [], 0
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if not collected and not re.match(r"type\s*=", stripped):
            continue
        if not collected:
            stripped = stripped.split("=", 1)[1].strip()
        collected.append(stripped)
        depth += sum(stripped.count(c) for c in "({[") - sum(stripped.count(c) for c in ")}]")
        if depth <= 0:
            break
    text = collected[0]
    for prev, part in zip(collected, collected[1:]):
        joiner = " " if prev.endswith(("(", "{", "[")) or part.startswith((")", "}", "]")) else ", "
        text += joiner + part
    text = re.sub(r"\s{2,}", " ", text)
    text = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))
    text = re.sub(r"\{\s+", "{ ", re.sub(r"\s+\}", " }", text))
    return text.replace("|", "\\|")


def _default(body: dict) -> str:
    if "default" not in body:
        return "required"
    value = inv.attr(body, "default")
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (dict, list)):
        return "see variables.tf" if value else f"`{'{}' if isinstance(value, dict) else '[]'}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(module: Path) -> str:
    cfg = inv.Config.from_dir(module)
    lines = [BEGIN, "## Inputs", "", "| Name | Description | Type | Default |", "|---|---|---|---|"]
    for name, body, fname in cfg.named("variable"):
        source = cfg.texts[fname].splitlines()
        lines.append(f"| `{name}` | {_cell(inv.attr(body, 'description'))} | `{_type(name, source)}` | {_default(body)} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, body, _ in cfg.named("output"):
        lines.append(f"| `{name}` | {_cell(inv.attr(body, 'description'))} |")
    lines.append(END)
    return "\n".join(lines)


def updated(readme: str, module: Path) -> str:
    block = render(module)
    if BEGIN in readme and END in readme:
        head, rest = readme.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + block + tail
    return readme.rstrip("\n") + "\n\n" + block + "\n"


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        if arg == "--write":
            continue
        module = Path(arg)
        path = module / "README.md"
        old = path.read_text(encoding="utf-8") if path.exists() else f"# {module.name}\n"
        new = updated(old, module)
        if "--write" in sys.argv and new != old:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path}")
