resource "google_kms_key_ring" "this" {
  project  = var.project_id
  name     = "${var.name_prefix}-keys"
  location = var.region
}

resource "google_kms_crypto_key" "platform" {
  for_each = local.platform_keys

  name                       = "${var.name_prefix}-${each.key}"
  key_ring                   = google_kms_key_ring.this.id
  purpose                    = "ENCRYPT_DECRYPT"
  rotation_period            = local.key_rotation_period
  destroy_scheduled_duration = local.key_destroy_scheduled_duration
  labels                     = local.labels

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = "HSM"
  }

  lifecycle {
    prevent_destroy = true
  }
}

# The service agents must hold the key before the resources that encrypt with it are created:
# every such resource lists this grant in depends_on.
resource "google_kms_crypto_key_iam_member" "service_agent" {
  for_each = local.key_users

  crypto_key_id = google_kms_crypto_key.platform[each.key].id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
}
