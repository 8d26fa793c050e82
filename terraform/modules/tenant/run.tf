# The three functions of the tenant: internal ingress only (Pub/Sub push and Scheduler from
# the same project still reach them), the function's own identity, scale to zero, secrets
# from Secret Manager, Direct VPC egress to Cloud SQL's private IP.
resource "google_cloud_run_v2_service" "this" {
  for_each = local.deployed

  project             = var.project_id
  name                = "${local.name}-${each.key}"
  location            = var.region
  description         = "bacca ${each.key} for tenant ${var.tenant_id}"
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = var.deletion_protection
  custom_audiences    = [local.audiences[each.key]]
  labels              = merge(local.labels, { function = each.key })

  template {
    service_account                  = google_service_account.this[each.key].email
    timeout                          = "${each.value.ack_deadline_seconds}s"
    max_instance_request_concurrency = each.value.concurrency
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    labels                           = merge(local.labels, { function = each.key })

    scaling {
      min_instance_count = 0
      max_instance_count = var.max_instance_count
    }

    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = var.network.network_id
        subnetwork = var.network.subnetwork_id
      }
    }

    containers {
      name  = each.key
      image = "${var.image_repository}/bacca-${each.key}:${var.image_tag}"

      ports {
        container_port = 8080
      }

      resources {
        cpu_idle          = true
        startup_cpu_boost = true
        limits = {
          cpu    = "1"
          memory = each.value.memory
        }
      }

      startup_probe {
        period_seconds    = 2
        failure_threshold = 15
        http_get {
          path = "/healthz"
        }
      }

      liveness_probe {
        period_seconds = 30
        http_get {
          path = "/healthz"
        }
      }

      dynamic "env" {
        for_each = local.env[each.key]
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = { for k, v in local.secret_access : v.env => v if v.fn == each.key }
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.this[env.key].secret_id
              version = "latest"
            }
          }
        }
      }
    }
  }

  depends_on = [
    google_kms_crypto_key_iam_member.anonymize_decrypter,
    google_kms_crypto_key_iam_member.fetch_encrypter,
    google_project_iam_member.graph_client,
    google_secret_manager_secret_iam_member.access,
    google_storage_bucket_iam_member.anonymize_reader,
    google_storage_bucket_iam_member.expire_deleter,
    google_storage_bucket_iam_member.fetch_checkpoints,
    google_storage_bucket_iam_member.fetch_creator,
  ]
}

# Only the tenant's invoker identity may call the services; nothing is public.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.deployed

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.this[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.this["invoker"].email}"
}
