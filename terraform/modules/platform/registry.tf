resource "google_artifact_registry_repository" "images" {
  project       = var.project_id
  location      = var.region
  repository_id = var.name_prefix
  description   = "bacca function images (bacca-fetch, bacca-anonymize, bacca-expire)"
  format        = "DOCKER"
  kms_key_name  = google_kms_crypto_key.platform["artifacts"].id
  labels        = local.labels

  docker_config {
    immutable_tags = true
  }

  depends_on = [google_kms_crypto_key_iam_member.service_agent]
}
