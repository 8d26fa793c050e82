# One push subscription per function, on the shared topic, filtered to this tenant. Pushes
# carry an OIDC token of the invoker identity; failures back off and, after
# max_delivery_attempts, go to the dead-letter topic.
resource "google_pubsub_subscription" "push" {
  for_each = local.deployed

  project                    = var.project_id
  name                       = "${local.name}-${each.key}"
  topic                      = each.value.topic
  filter                     = "attributes.tenant = \"${var.tenant_id}\""
  ack_deadline_seconds       = each.value.ack_deadline_seconds
  message_retention_duration = "604800s"
  retain_acked_messages      = false
  labels                     = merge(local.labels, { function = each.key })

  expiration_policy {
    ttl = ""
  }

  push_config {
    push_endpoint = google_cloud_run_v2_service.this[each.key].uri
    oidc_token {
      service_account_email = google_service_account.this["invoker"].email
      audience              = local.audiences[each.key]
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = var.topics.dead_letter
    max_delivery_attempts = 10
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.invoker,
    google_service_account_iam_member.pubsub_token_creator,
  ]
}

# The Pub/Sub service agent acknowledges what it forwards to the dead-letter topic.
resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.deployed

  project      = var.project_id
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${var.service_agents.pubsub}"
}
