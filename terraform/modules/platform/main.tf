locals {
  labels = merge(var.labels, { app = "bacca", component = "platform" })

  # One HSM key per consumer of customer-managed encryption on shared resources.
  platform_keys = toset(["artifacts", "logs", "pubsub", "sql", "storage"])

  # Service agents that encrypt with a platform key, by key name.
  key_users = {
    artifacts = "serviceAccount:${google_project_service_identity.this["artifactregistry.googleapis.com"].email}"
    logs      = "serviceAccount:${data.google_logging_project_cmek_settings.this.service_account_id}"
    pubsub    = "serviceAccount:${google_project_service_identity.this["pubsub.googleapis.com"].email}"
    sql       = "serviceAccount:${google_project_service_identity.this["sqladmin.googleapis.com"].email}"
    storage   = "serviceAccount:${data.google_storage_project_service_account.this.email_address}"
  }

  # 90 days; KMS rotates the primary version, decrypt keeps working with older versions.
  key_rotation_period = "7776000s"

  # 30 days between a destroy request and the actual destruction of a key version.
  key_destroy_scheduled_duration = "2592000s"

  # Created with the Cloud Scheduler API; its email follows the project number.
  scheduler_agent = "service-${data.google_project.this.number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"

  topics = toset(["dead-letter", "erasure-requests", "fetch-requests", "knowledge-updated", "raw-landed"])
}

data "google_project" "this" {
  project_id = var.project_id
}

data "google_storage_project_service_account" "this" {
  project = var.project_id
}

data "google_logging_project_cmek_settings" "this" {
  project = var.project_id
}

resource "google_project_service_identity" "this" {
  provider = google-beta
  for_each = toset(["artifactregistry.googleapis.com", "pubsub.googleapis.com", "secretmanager.googleapis.com", "sqladmin.googleapis.com"])

  project = var.project_id
  service = each.key
}
