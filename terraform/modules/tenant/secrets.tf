# Containers for the tenant's connector credentials and pseudonym key, encrypted with the
# tenant's key. Values are never in Terraform (they would land in the state): operators add
# them with `gcloud secrets versions add` (see the module README).
resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = "${local.name}-${lower(replace(each.key, "_", "-"))}"
  labels    = local.labels

  replication {
    user_managed {
      replicas {
        location = var.region
        customer_managed_encryption {
          kms_key_name = google_kms_crypto_key.tenant.id
        }
      }
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.secret_manager_agent]
}

resource "google_secret_manager_secret_iam_member" "access" {
  for_each = local.secret_access

  project   = var.project_id
  secret_id = google_secret_manager_secret.this[each.value.env].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.this[each.value.fn].email}"
}
