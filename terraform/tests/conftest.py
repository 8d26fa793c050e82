"""Shared paths for the Terraform tests (run by scripts/check-terraform.sh)."""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
TERRAFORM = TESTS.parent
MODULES = TERRAFORM / "modules"
EXAMPLES = TERRAFORM / "examples"

sys.path.insert(0, str(TESTS))


def module_dirs():
    return sorted(p for p in MODULES.iterdir() if p.is_dir())


def example_dirs():
    return sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
