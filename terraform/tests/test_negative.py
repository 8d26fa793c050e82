"""The checkers catch what they are meant to catch: a compact, valid tenant-like module passes,
and each deliberate breakage of it (a string edit) is reported by the matching checker."""

import pytest

import hclfmt
import invariants as inv
from conftest import MODULES

GOOD = '''
variable "raw_retention_days" {
  description = "Backstop."
  type        = number
  default     = 29
  nullable    = false

  validation {
    condition     = var.raw_retention_days >= 1 && var.raw_retention_days <= 29
    error_message = "1..29"
  }
}

variable "tenant_id" {
  description = "Tenant."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.tenant_id))
    error_message = "DNS-safe."
  }
}

resource "google_service_account" "this" {
  for_each   = toset(["fetch", "invoker"])
  account_id = "${var.tenant_id}-${each.key}"
}

resource "google_kms_crypto_key" "tenant" {
  name                       = var.tenant_id
  key_ring                   = "projects/p/locations/l/keyRings/r"
  rotation_period            = "7776000s"
  destroy_scheduled_duration = "2592000s"

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = "HSM"
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "google_kms_crypto_key_iam_member" "storage_agent" {
  crypto_key_id = google_kms_crypto_key.tenant.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${var.service_agents.storage}"
}

resource "google_storage_bucket" "raw" {
  name                        = "${var.tenant_id}-raw"
  location                    = "EUROPE-WEST1"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  encryption {
    default_kms_key_name = google_kms_crypto_key.tenant.id
  }

  soft_delete_policy {
    retention_duration_seconds = 0
  }

  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      days_since_custom_time = var.raw_retention_days
    }
  }

  logging {
    log_bucket = "logs"
  }

  depends_on = [google_kms_crypto_key_iam_member.storage_agent]
}

resource "google_storage_bucket_iam_member" "fetch" {
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.this["fetch"].email}"
}

resource "google_secret_manager_secret" "token" {
  secret_id = "${var.tenant_id}-token"

  replication {
    user_managed {
      replicas {
        location = "europe-west1"
        customer_managed_encryption {
          kms_key_name = google_kms_crypto_key.tenant.id
        }
      }
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.storage_agent]
}

resource "google_cloud_run_v2_service" "fetch" {
  name     = "${var.tenant_id}-fetch"
  location = "europe-west1"
  ingress  = "INGRESS_TRAFFIC_INTERNAL_ONLY"

  template {
    service_account = google_service_account.this["fetch"].email

    scaling {
      min_instance_count = 0
    }

    containers {
      image = "img"
      resources {
        startup_cpu_boost = true
      }
    }
  }
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  name   = google_cloud_run_v2_service.fetch.name
  role   = "roles/run.invoker"
  member = "serviceAccount:${google_service_account.this["invoker"].email}"
}

resource "google_pubsub_subscription" "fetch" {
  name  = "${var.tenant_id}-fetch"
  topic = "projects/p/topics/fetch-requests"

  push_config {
    push_endpoint = google_cloud_run_v2_service.fetch.uri
    oidc_token {
      service_account_email = google_service_account.this["invoker"].email
    }
  }

  retry_policy {
    minimum_backoff = "10s"
  }

  dead_letter_policy {
    dead_letter_topic     = "projects/p/topics/dead-letter"
    max_delivery_attempts = 10
  }
}
'''


def findings(text):
    cfg = inv.Config.from_text(text)
    return inv.check_all(cfg) + inv.check_variables(cfg)


def test_good_snippet_passes_every_check():
    assert findings(GOOD) == []
    assert hclfmt.findings(GOOD.lstrip("\n")) == []


BREAKAGES = {
    "bucket without CMEK": (
        "  encryption {\n    default_kms_key_name = google_kms_crypto_key.tenant.id\n  }\n",
        "",
        "no CMEK",
    ),
    "bucket without lifecycle Delete": ('type = "Delete"', 'type = "SetStorageClass"', "without a Delete rule"),
    "lifecycle at 30 days": ("days_since_custom_time = var.raw_retention_days", "days_since_custom_time = 30", "exceeds 29"),
    "retention variable default 31": ("default     = 29", "default     = 31", "exceeds 29"),
    "retention variable without bound": (
        "var.raw_retention_days >= 1 && var.raw_retention_days <= 29",
        "var.raw_retention_days >= 1",
        "enforces <= 29",
    ),
    "soft delete kept": ("retention_duration_seconds = 0", "retention_duration_seconds = 604800", "soft delete"),
    "public access prevention inherited": ('"enforced"', '"inherited"', "public_access_prevention"),
    "versioning on raw bucket": ("  logging {\n", "  versioning {\n    enabled = true\n  }\n\n  logging {\n", "versioning"),
    "retention policy on raw bucket": (
        "  logging {\n",
        "  retention_policy {\n    retention_period = 86400\n  }\n\n  logging {\n",
        "retention policy",
    ),
    "bucket created before the key grant": (
        "  depends_on = [google_kms_crypto_key_iam_member.storage_agent]\n}\n\nresource \"google_storage_bucket_iam_member\"",
        "}\n\nresource \"google_storage_bucket_iam_member\"",
        "key grant",
    ),
    "software key": ('protection_level = "HSM"', 'protection_level = "SOFTWARE"', "HSM"),
    "rotation of 100 days": ('"7776000s"', '"8640000s"', "exceeds"),
    "key without prevent_destroy": ("prevent_destroy = true", "prevent_destroy = false", "prevent_destroy"),
    "key without destroy delay": ('  destroy_scheduled_duration = "2592000s"\n', "", "destroy_scheduled_duration"),
    "allUsers invoker": (
        'member = "serviceAccount:${google_service_account.this["invoker"].email}"',
        'member = "allUsers"',
        "public member",
    ),
    "allAuthenticatedUsers on the bucket": (
        'member = "serviceAccount:${google_service_account.this["fetch"].email}"\n}\n\nresource "google_secret',
        'member = "allAuthenticatedUsers"\n}\n\nresource "google_secret',
        "public member",
    ),
    "push without OIDC": (
        '    oidc_token {\n      service_account_email = google_service_account.this["invoker"].email\n    }\n',
        "",
        "OIDC",
    ),
    "push without dead-letter policy": (
        '  dead_letter_policy {\n    dead_letter_topic     = "projects/p/topics/dead-letter"\n    max_delivery_attempts = 10\n  }\n',
        "",
        "dead-letter",
    ),
    "public ingress": ('"INGRESS_TRAFFIC_INTERNAL_ONLY"', '"INGRESS_TRAFFIC_ALL"', "ingress"),
    "no scale to zero": ("min_instance_count = 0", "min_instance_count = 1", "scale to zero"),
    "bucket bound to a foreign account": (
        'member = "serviceAccount:${google_service_account.this["fetch"].email}"\n}\n\nresource "google_secret',
        'member = "serviceAccount:other-tenant-fetch@p.iam.gserviceaccount.com"\n}\n\nresource "google_secret',
        "is not one of this tenant's service accounts",
    ),
    "grant on another module's bucket": (
        "bucket = google_storage_bucket.raw.name",
        "bucket = var.other_bucket",
        "is not a google_storage_bucket of this module",
    ),
    "service account not named after the tenant": (
        'account_id = "${var.tenant_id}-${each.key}"',
        'account_id = "shared-${each.key}"',
        "not named after var.tenant_id",
    ),
    "secret without CMEK": (
        "        customer_managed_encryption {\n          kms_key_name = google_kms_crypto_key.tenant.id\n        }\n",
        "",
        "customer_managed_encryption",
    ),
    "variable that may be null": ('type        = string\n  nullable    = false', 'type        = string\n  nullable    = true', "nullable"),
}


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_breakage_is_caught(name):
    old, new, expected = BREAKAGES[name]
    assert old in GOOD, f"breakage {name!r} no longer applies to the snippet"
    bad = GOOD.replace(old, new, 1)
    problems = findings(bad)
    assert any(expected in p for p in problems), problems


def test_scheduler_http_job_without_oidc_is_caught():
    bad = GOOD + '''
resource "google_cloud_scheduler_job" "sweep" {
  name     = "sweep"
  schedule = "17 * * * *"

  http_target {
    uri = google_cloud_run_v2_service.fetch.uri
  }
}
'''
    assert any("OIDC" in p for p in findings(bad))


def test_admin_role_is_caught():
    bad = GOOD.replace('role   = "roles/storage.objectCreator"', 'role   = "roles/storage.admin"')
    assert any("broad role roles/storage.admin" in p for p in findings(bad))
    bad = GOOD.replace('role   = "roles/storage.objectCreator"', 'role   = "roles/editor"')
    assert any("broad role roles/editor" in p for p in findings(bad))


def test_authoritative_binding_on_tenant_data_is_caught():
    bad = GOOD + '''
resource "google_storage_bucket_iam_binding" "all" {
  bucket  = google_storage_bucket.raw.name
  role    = "roles/storage.objectViewer"
  members = ["serviceAccount:${google_service_account.this["fetch"].email}"]
}
'''
    assert any("authoritative" in p for p in findings(bad))


def test_variables_out_of_order_are_caught():
    renamed = GOOD.replace('variable "tenant_id"', 'variable "z_tenant_id"')
    assert inv.check_variables(inv.Config.from_text(renamed)) == []
    swapped = GOOD.replace('variable "tenant_id"', 'variable "a_tenant_id"')
    assert any("alphabetical" in p for p in inv.check_variables(inv.Config.from_text(swapped)))


def test_unbounded_provider_version_is_caught():
    text = 'terraform {\n  required_version = ">= 1.6"\n\n  required_providers {\n    google = {\n      source  = "hashicorp/google"\n      version = ">= 6.0"\n    }\n  }\n}\n'
    problems = inv.check_versions(inv.Config("versions.tf", {"versions.tf": text}))
    assert len(problems) == 2


def test_example_missing_a_required_variable_is_caught(tmp_path):
    example = tmp_path / "examples" / "broken"
    example.mkdir(parents=True)
    (tmp_path / "modules").symlink_to(MODULES, target_is_directory=True)
    (example / "main.tf").write_text(
        'module "tenant" {\n  source    = "../../modules/tenant"\n  tenant_id = "acme"\n  colour    = "blue"\n}\n'
    )
    problems = inv.check_example(inv.Config.from_dir(example), tmp_path / "modules")
    assert any("misses required variable project_id" in p for p in problems)
    assert any("unknown argument colour" in p for p in problems)


def test_example_with_foreign_module_source_is_caught(tmp_path):
    example = tmp_path / "examples" / "remote"
    example.mkdir(parents=True)
    (example / "main.tf").write_text('module "x" {\n  source = "github.com/acme/bacca//terraform/modules/tenant"\n}\n')
    problems = inv.check_example(inv.Config.from_dir(example), tmp_path / "modules")
    assert any("not a module of this repository" in p for p in problems)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('a = 1\nbb = 2\n', "expected 'a  = 1'"),
        ('resource "x" "y" {\nname = 1\n}\n', "expected '  name = 1'"),
        ('resource "x" "y" {\n    name = 1\n}\n', "expected '  name = 1'"),
        ('a  = 1\n\nbb = 2\n', "expected 'a = 1'"),
        ('a = 1', "exactly one newline"),
        ('a = 1\n\n', "exactly one newline"),
        ('a =\t1\n', "tab"),
        ('a = 1 \n', "expected 'a = 1'"),
        ('x = {\n  a = 1\n    b = 2\n}\n', "expected '  b = 2'"),
    ],
)
def test_fmt_deviation_is_caught(text, expected):
    problems = hclfmt.findings(text, "t.tf")
    assert any(expected in p for p in problems), problems


def test_fmt_accepts_aligned_blocks():
    text = 'resource "x" "y" {\n  a    = 1\n  long = "x = y"\n\n  b {\n    c = [1, 2]\n  }\n}\n'
    assert hclfmt.findings(text) == []
