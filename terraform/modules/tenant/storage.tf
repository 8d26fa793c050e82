# The tenant's raw bucket: encrypted batches only, gone within 30 days of the occurrence of
# their records. No versioning, no soft delete, no retention policy and no holds: each of
# them would keep or block deleted bytes past the promise.
resource "google_storage_bucket" "raw" {
  #checkov:skip=CKV_GCP_78:Versioning would keep deleted raw objects as noncurrent versions past the 30-day removal promise.
  project                     = var.project_id
  name                        = "${var.project_id}-${var.tenant_id}-raw"
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  force_destroy               = false
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  default_event_based_hold    = false
  labels                      = merge(local.labels, { data = "raw" })

  encryption {
    default_kms_key_name = google_kms_crypto_key.tenant.id
  }

  soft_delete_policy {
    retention_duration_seconds = 0
  }

  versioning {
    enabled = false
  }

  # Backstop of the hourly sweep: Custom-Time is the earliest occurrence in the batch.
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      days_since_custom_time = var.raw_retention_days
    }
  }

  # Objects without Custom-Time (e.g. connector checkpoints) never match the rule above; Custom-Time
  # is never later than creation, so this rule never deletes an object earlier than the one above.
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      age = var.raw_retention_days
    }
  }

  logging {
    log_bucket        = var.access_log_bucket
    log_object_prefix = "${var.tenant_id}-raw"
  }

  depends_on = [google_kms_crypto_key_iam_member.storage_agent]
}

# fetch creates objects (with a generation precondition, so it never overwrites a batch)...
resource "google_storage_bucket_iam_member" "fetch_creator" {
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.this["fetch"].email}"
}

# ...and reads and replaces its own checkpoints, only under checkpoints/.
resource "google_storage_bucket_iam_member" "fetch_checkpoints" {
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.this["fetch"].email}"

  condition {
    title       = "checkpoints-only"
    description = "Only the connector checkpoints of this tenant."
    expression  = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.raw.name}/objects/checkpoints/\")"
  }
}

resource "google_storage_bucket_iam_member" "anonymize_reader" {
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.this["anonymize"].email}"
}

resource "google_storage_bucket_iam_member" "expire_deleter" {
  bucket = google_storage_bucket.raw.name
  role   = var.raw_expirer_role_id
  member = "serviceAccount:${google_service_account.this["expire"].email}"
}
