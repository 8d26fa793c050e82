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


def _grants(cfg, rtype):
    """{function: {role}} of the direct grants of one IAM resource type in a module."""
    import re

    out = {}
    for _, _, body, _ in cfg.resources(rtype):
        m = re.search(r'google_service_account\.this\["(\w+)"\]', str(inv.attr(body, "member")))
        if m:
            out.setdefault(m.group(1), set()).add(str(inv.attr(body, "role")))
    return out


def test_tenant_iam_matrix_is_least_privilege():
    """Pins who may do what on a tenant's bucket and key: growing a grant must change this test."""
    tenant = inv.Config.from_dir(TERRAFORM / "modules/tenant")
    assert _grants(tenant, "google_storage_bucket_iam_member") == {
        "fetch": {"roles/storage.objectCreator", "roles/storage.objectUser"},
        "anonymize": {"roles/storage.objectViewer"},
        "expire": {"${var.raw_expirer_role_id}"},
    }
    assert _grants(tenant, "google_kms_crypto_key_iam_member") == {
        "fetch": {"roles/cloudkms.cryptoKeyEncrypter"},
        "anonymize": {"roles/cloudkms.cryptoKeyDecrypter"},
        "expire": {"roles/cloudkms.cryptoKeyEncrypterDecrypter"},
    }
    (_, _, checkpoints, _), = [r for r in tenant.resources("google_storage_bucket_iam_member") if r[1] == "fetch_checkpoints"]
    assert "objects/checkpoints/" in str(inv.attr(inv.block(checkpoints, "condition"), "expression"))
    (_, _, invoker, _), = tenant.resources("google_cloud_run_v2_service_iam_member")
    assert inv.attr(invoker, "role") == "roles/run.invoker"
    assert 'google_service_account.this["invoker"]' in str(inv.attr(invoker, "member"))
    platform = inv.Config.from_dir(TERRAFORM / "modules/platform")
    (_, _, role, _), = platform.resources("google_project_iam_custom_role")
    assert sorted(inv.attr(role, "permissions")) == [
        "storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.list"]


def test_services_receive_the_documented_environment():
    tenant = inv.Config.from_dir(TERRAFORM / "modules/tenant")
    env = str(tenant.locals())
    for name in ("BACCA_TENANT", "BACCA_STORE", "BACCA_KMS", "BACCA_GRAPH", "BACCA_DEAD_LETTER_TOPIC",
                 "BACCA_RAW_LANDED_TOPIC", "BACCA_KNOWLEDGE_UPDATED_TOPIC", "BACCA_OIDC_AUDIENCE",
                 "BACCA_OIDC_SERVICE_ACCOUNT", "GOOGLE_CLOUD_PROJECT"):
        assert name in env, name
    assert "gcp-kms://" in env and "gs://" in env and "postgres://" in env


def test_retention_arithmetic_keeps_the_30_day_promise():
    """DESIGN.md: hourly sweep at 30 d - 2 h; lifecycle backstop at 29 d plus up to 24 h of lag."""
    import re

    tenant = inv.Config.from_dir(TERRAFORM / "modules/tenant")
    (_, _, expire, _), = [r for r in tenant.resources("google_cloud_scheduler_job") if r[1] == "expire"]
    schedule = inv.attr(expire, "schedule")
    assert re.fullmatch(r"\d{1,2} \* \* \* \*", schedule), f"expire must run hourly, not {schedule!r}"
    sweep_cutoff_hours, sweep_interval_hours = 30 * 24 - 2, 1
    assert sweep_cutoff_hours + sweep_interval_hours < 30 * 24
    backstop_days = inv.attr(tenant.variables()["raw_retention_days"], "default")
    lifecycle_lag_hours = 24
    assert backstop_days * 24 + lifecycle_lag_hours <= 30 * 24


def test_subscriptions_and_fetch_jobs_carry_the_tenant():
    tenant = inv.Config.from_dir(TERRAFORM / "modules/tenant")
    (_, _, sub, _), = tenant.resources("google_pubsub_subscription")
    assert inv.attr(sub, "filter") == 'attributes.tenant = "${var.tenant_id}"'
    (_, _, fetch, _), = [r for r in tenant.resources("google_cloud_scheduler_job") if r[1] == "fetch"]
    target = inv.block(fetch, "pubsub_target")
    assert "var.tenant_id" in str(inv.attr(target, "attributes"))
    assert "fetch_requests" in str(inv.attr(target, "topic_name"))
