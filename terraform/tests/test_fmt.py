"""Every .tf and .tfvars file is laid out as `terraform fmt` would (see hclfmt.py)."""

import re
import shutil
import subprocess

import pytest

import hclfmt
from conftest import TERRAFORM

FILES = sorted(
    p for p in TERRAFORM.rglob("*") if p.suffix in (".tf", ".tfvars") or p.name.endswith(".tfvars.example")
)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_file_is_fmt_clean(path):
    assert hclfmt.findings(path.read_text(encoding="utf-8"), str(path)) == []


def test_there_are_files_to_check():
    assert len(FILES) >= 20


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform binary not on PATH")
def test_hclfmt_agrees_with_terraform_fmt(tmp_path):
    """Where a terraform binary exists: strip the layout of every file, then both formatters
    must rebuild the same text (so the approximation is validated against the real thing)."""
    mangled = {}
    for i, path in enumerate(p for p in FILES if p.suffix == ".tf"):
        text = path.read_text(encoding="utf-8")
        lines = [re.sub(r"\s+=\s+", " = ", line.lstrip()) for line in text.splitlines()]
        mangled[f"f{i}.tf"] = "\n".join(lines) + "\n"
        (tmp_path / f"f{i}.tf").write_text(mangled[f"f{i}.tf"], encoding="utf-8")
    subprocess.run(["terraform", "fmt", str(tmp_path)], check=True, capture_output=True)
    for name, text in mangled.items():
        assert hclfmt.format_text(text) == (tmp_path / name).read_text(encoding="utf-8"), name
