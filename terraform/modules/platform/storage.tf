# Receives the usage and storage logs of every tenant's raw bucket (object names and
# requesters, never content).
resource "google_storage_bucket" "access_logs" {
  #checkov:skip=CKV_GCP_62:This bucket is the access-log destination; logging it into itself would loop.
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-access-logs"
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  force_destroy               = false
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  encryption {
    default_kms_key_name = google_kms_crypto_key.platform["storage"].id
  }

  versioning {
    enabled = true
  }

  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      age = var.access_log_retention_days
    }
  }

  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      days_since_noncurrent_time = 7
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.service_agent]
}

# Cloud Storage writes usage logs as this Google-owned group.
resource "google_storage_bucket_iam_member" "access_log_writer" {
  bucket = google_storage_bucket.access_logs.name
  role   = "roles/storage.objectCreator"
  member = "group:cloud-storage-analytics@google.com"
}
