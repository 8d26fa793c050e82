"""Every example is a complete root module that calls the modules correctly."""

import pytest

import invariants as inv
from conftest import MODULES, TERRAFORM, example_dirs


@pytest.mark.parametrize("example", example_dirs(), ids=lambda p: p.name)
def test_example_calls_modules_with_all_required_variables(example):
    assert inv.check_example(inv.Config.from_dir(example), MODULES) == []


@pytest.mark.parametrize("example", example_dirs(), ids=lambda p: p.name)
def test_example_has_versions_providers_and_readme(example):
    cfg = inv.Config.from_dir(example)
    assert inv.check_versions(cfg) == []
    providers = [p for doc in cfg.docs.values() for entry in doc.get("provider", []) for p in entry]
    assert {"google", "google-beta"} <= set(providers)
    assert (example / "README.md").is_file()


@pytest.mark.parametrize("example", example_dirs(), ids=lambda p: p.name)
def test_example_outputs_exist_in_modules(example):
    """module.X.Y references in an example name outputs the module declares."""
    import re

    cfg = inv.Config.from_dir(example)
    sources = {n: (example / str(inv.attr(b, "source"))).resolve() for n, b, _ in cfg.named("module")}
    declared = {n: {o for o, _, _ in inv.Config.from_dir(p).named("output")} for n, p in sources.items()}
    for fname, text in cfg.texts.items():
        for module, output in re.findall(r"module\.(\w+)\.(\w+)", text):
            assert output in declared[module], f"{fname}: module.{module}.{output} is not an output"


def test_two_tenants_uses_for_each_over_a_tenant_map():
    cfg = inv.Config.from_dir(TERRAFORM / "examples/two-tenants")
    tenant_calls = [b for n, b, _ in cfg.named("module") if "modules/tenant" in str(inv.attr(b, "source"))]
    assert len(tenant_calls) == 1
    assert inv.attr(tenant_calls[0], "for_each") == "${var.tenants}"
    default = inv.attr(cfg.variables()["tenants"], "default")
    assert len(default) == 2
