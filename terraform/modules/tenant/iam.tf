resource "google_service_account" "this" {
  for_each = local.service_accounts

  project      = var.project_id
  account_id   = "${var.tenant_id}-${each.value}"
  display_name = "bacca ${var.tenant_id} ${each.key}"
  description  = "bacca: identity of tenant ${var.tenant_id}'s ${each.key} ${each.key == "invoker" ? "push requests" : "function"}."
}

# Pub/Sub mints the OIDC tokens of push requests as the invoker identity.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.this["invoker"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${var.service_agents.pubsub}"
}

# The functions write structured logs, including audit events under the audit log name.
resource "google_project_iam_member" "log_writer" {
  for_each = toset(["anonymize", "expire", "fetch"])

  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.this[each.key].email}"
}

# Publishing: fetch announces landed batches, anonymize announces graph updates, every
# function copies permanent failures to the dead-letter topic.
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = {
    "anonymize/dead_letter"       = { fn = "anonymize", topic = var.topics.dead_letter }
    "anonymize/knowledge_updated" = { fn = "anonymize", topic = var.topics.knowledge_updated }
    "expire/dead_letter"          = { fn = "expire", topic = var.topics.dead_letter }
    "fetch/dead_letter"           = { fn = "fetch", topic = var.topics.dead_letter }
    "fetch/raw_landed"            = { fn = "fetch", topic = var.topics.raw_landed }
  }

  project = var.project_id
  topic   = each.value.topic
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.this[each.value.fn].email}"
}
