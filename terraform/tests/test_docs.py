"""Each module README documents every input and output."""

import pytest

import invariants as inv
from conftest import TERRAFORM, module_dirs


@pytest.mark.parametrize("module", module_dirs(), ids=lambda p: p.name)
def test_readme_lists_inputs_and_outputs(module):
    readme = (module / "README.md").read_text(encoding="utf-8")
    cfg = inv.Config.from_dir(module)
    for kind in ("variable", "output"):
        for name, _, _ in cfg.named(kind):
            assert f"`{name}`" in readme, f"{module.name}/README.md does not document {kind} {name}"


def test_top_level_readme_covers_deploy_and_scale():
    readme = (TERRAFORM / "README.md").read_text(encoding="utf-8")
    for needle in ("scripts/deploy.sh", "APIs", "roles/", "1,000"):
        assert needle in readme


@pytest.mark.parametrize("module", module_dirs(), ids=lambda p: p.name)
def test_readme_tables_are_current(module):
    """Regenerate with: .venv/bin/python terraform/tests/tfdocs.py --write terraform/modules/*"""
    import tfdocs

    readme = (module / "README.md").read_text(encoding="utf-8")
    assert tfdocs.updated(readme, module) == readme
