"""The invariants of issue 7 point 6 (and neighbours) over every module and every example."""

import pytest

import invariants as inv
from conftest import TERRAFORM, example_dirs, module_dirs

DIRS = module_dirs() + example_dirs()
IDS = [str(d.relative_to(TERRAFORM)) for d in DIRS]


@pytest.fixture(scope="module", params=DIRS, ids=IDS)
def cfg(request):
    return inv.Config.from_dir(request.param)


def test_layout_has_the_expected_modules_and_examples():
    assert {"modules/platform", "modules/tenant"} <= set(IDS)
    assert "examples/two-tenants" in IDS


@pytest.mark.parametrize("check", inv.ALL_RESOURCE_CHECKS, ids=lambda c: c.__name__)
def test_resource_invariant(cfg, check):
    assert check(cfg) == []


def test_variables_and_outputs_follow_conventions(cfg):
    assert inv.check_variables(cfg) == []


def test_versions_are_bounded(cfg):
    assert inv.check_versions(cfg) == []


def test_modules_define_what_the_invariants_look_at():
    """Guard against vacuous passes: the checks above must have had something to check."""
    tenant = inv.Config.from_dir(TERRAFORM / "modules/tenant")
    platform = inv.Config.from_dir(TERRAFORM / "modules/platform")
    assert [n for _, n, _, _ in tenant.resources("google_storage_bucket")] == ["raw"]
    assert len(tenant.resources("google_kms_crypto_key")) == 1
    assert len(platform.resources("google_kms_crypto_key")) == 1
    assert len(tenant.resources("google_pubsub_subscription")) == 1
    assert len(tenant.resources("google_cloud_run_v2_service")) == 1
    assert len(tenant.resources("google_secret_manager_secret")) == 1
    assert len(tenant.resources("google_storage_bucket_iam_member")) >= 3
    assert len(tenant.resources("google_kms_crypto_key_iam_member")) >= 3
    assert len(tenant.resources("google_secret_manager_secret_iam_member")) == 1
    assert len(platform.resources("google_pubsub_topic")) == 1
    assert len(platform.resources("google_sql_database_instance")) == 1
    assert len(platform.resources("google_logging_project_sink")) == 1


def test_platform_provisions_the_five_topics():
    platform = inv.Config.from_dir(TERRAFORM / "modules/platform")
    topics = str(platform.local("topics"))
    for topic in ("fetch-requests", "raw-landed", "knowledge-updated", "erasure-requests", "dead-letter"):
        assert topic in topics


def test_tenant_services_run_the_three_functions_with_internal_ingress():
    tenant = inv.Config.from_dir(TERRAFORM / "modules/tenant")
    functions = tenant.local("functions")
    assert set(functions) == {"fetch", "anonymize", "expire"}
    (_, _, service, _), = tenant.resources("google_cloud_run_v2_service")
    assert "local.deployed" in str(inv.attr(service, "for_each"))
    assert inv.attr(service, "ingress") == "INGRESS_TRAFFIC_INTERNAL_ONLY"


def test_raw_retention_variable_cannot_exceed_29_days():
    tenant = inv.Config.from_dir(TERRAFORM / "modules/tenant")
    var = tenant.variables()["raw_retention_days"]
    assert inv.attr(var, "default") == 29
    conditions = " ".join(str(inv.attr(v, "condition")) for v in inv.blocks(var, "validation"))
    assert "var.raw_retention_days <= 29" in conditions


def test_tenant_id_validation_is_dns_safe():
    tenant = inv.Config.from_dir(TERRAFORM / "modules/tenant")
    condition = str(inv.attr(inv.blocks(tenant.variables()["tenant_id"], "validation")[0], "condition"))
    assert "^[a-z][a-z0-9-]{1,18}[a-z0-9]$" in condition


def test_secrets_follow_the_vendor_variable_names():
    tenant = inv.Config.from_dir(TERRAFORM / "modules/tenant")
    text = str(tenant.local("source_secrets"))
    for env in ("SLACK_BOT_TOKEN", "DD_API_KEY", "DD_APP_KEY", "JIRA_EMAIL", "JIRA_API_TOKEN", "LINEAR_API_KEY",
                "CONFLUENCE_EMAIL", "CONFLUENCE_API_TOKEN", "NOTION_TOKEN"):
        assert env in text


def test_every_checkov_skip_has_a_reason():
    for path in TERRAFORM.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                rule, _, reason = line.split("checkov:skip=", 1)[1].partition(":")
                assert rule.startswith("CKV"), f"{path}: {line}"
                assert len(reason.strip()) > 20, f"{path}: skip without a reason: {line}"
