# Shared topics. Messages carry pointers (tenant, object, generation), never content, and an
# attribute `tenant` that each tenant's push subscription filters on.
resource "google_pubsub_topic" "this" {
  for_each = local.topics

  project                    = var.project_id
  name                       = "${var.name_prefix}-${each.key}"
  kms_key_name               = google_kms_crypto_key.platform["pubsub"].id
  message_retention_duration = "${var.message_retention_seconds}s"
  labels                     = local.labels

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }

  depends_on = [google_kms_crypto_key_iam_member.service_agent]
}

# Pub/Sub forwards undeliverable messages to the dead-letter topic as its service agent.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.this["dead-letter"].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_project_service_identity.this["pubsub.googleapis.com"].email}"
}

# Cloud Scheduler publishes the fetch requests of every tenant's sources.
resource "google_pubsub_topic_iam_member" "scheduler_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.this["fetch-requests"].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${local.scheduler_agent}"
}

# Operators read dead letters here; a topic without a subscription would drop them.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-dead-letter-inspect"
  topic                      = google_pubsub_topic.this["dead-letter"].id
  ack_deadline_seconds       = 60
  message_retention_duration = "${var.message_retention_seconds}s"
  retain_acked_messages      = false
  labels                     = local.labels

  expiration_policy {
    ttl = ""
  }
}
