# One fetch request per enabled source on its schedule, published to the shared topic with
# the attributes the tenant's fetch subscription filters on.
resource "google_cloud_scheduler_job" "fetch" {
  for_each = { for source, spec in var.sources : source => spec if var.deploy_services }

  project     = var.project_id
  region      = var.region
  name        = "${local.name}-fetch-${each.key}"
  description = "Fetch ${each.key} for tenant ${var.tenant_id}"
  schedule    = each.value.schedule
  time_zone   = "Etc/UTC"
  paused      = !each.value.enabled

  retry_config {
    retry_count          = 3
    min_backoff_duration = "10s"
    max_backoff_duration = "300s"
  }

  pubsub_target {
    topic_name = var.topics.fetch_requests
    data       = base64encode(jsonencode({ tenant = var.tenant_id, source = each.key }))
    attributes = {
      source = each.key
      tenant = var.tenant_id
    }
  }
}

# The hourly retention sweep: deletes raw objects whose Custom-Time is older than 30 d - 2 h.
resource "google_cloud_scheduler_job" "expire" {
  for_each = var.deploy_services ? toset(["hourly"]) : toset([])

  project          = var.project_id
  region           = var.region
  name             = "${local.name}-expire-${each.key}"
  description      = "Retention sweep of tenant ${var.tenant_id}'s raw bucket"
  schedule         = "17 * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "320s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "300s"
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloud_run_v2_service.this["expire"].uri}/"
    body        = base64encode(jsonencode({ tenant = var.tenant_id, action = "sweep" }))
    headers = {
      "Content-Type" = "application/json"
    }
    oidc_token {
      service_account_email = google_service_account.this["invoker"].email
      audience              = local.audiences["expire"]
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.invoker]
}
