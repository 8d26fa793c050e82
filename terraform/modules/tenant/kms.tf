# The tenant's key encryption key: it wraps the data keys of every raw object (Tink envelope),
# is the CMEK of the raw bucket and of the tenant's secrets, and is never shared with another
# tenant.
resource "google_kms_crypto_key" "tenant" {
  name                       = local.name
  key_ring                   = var.key_ring_id
  purpose                    = "ENCRYPT_DECRYPT"
  rotation_period            = "7776000s"
  destroy_scheduled_duration = "2592000s"
  labels                     = local.labels

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = "HSM"
  }

  lifecycle {
    prevent_destroy = true
  }
}

# Service agents first: the bucket and the secrets depend on these grants.
resource "google_kms_crypto_key_iam_member" "storage_agent" {
  crypto_key_id = google_kms_crypto_key.tenant.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${var.service_agents.storage}"
}

resource "google_kms_crypto_key_iam_member" "secret_manager_agent" {
  crypto_key_id = google_kms_crypto_key.tenant.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${var.service_agents.secret_manager}"
}

# fetch wraps data keys; anonymize unwraps them; expire does both for data-subject erasure
# (decrypts raw batches and the wrapped pseudonym key, re-encrypts the rewritten batches).
resource "google_kms_crypto_key_iam_member" "fetch_encrypter" {
  crypto_key_id = google_kms_crypto_key.tenant.id
  role          = "roles/cloudkms.cryptoKeyEncrypter"
  member        = "serviceAccount:${google_service_account.this["fetch"].email}"
}

resource "google_kms_crypto_key_iam_member" "anonymize_decrypter" {
  crypto_key_id = google_kms_crypto_key.tenant.id
  role          = "roles/cloudkms.cryptoKeyDecrypter"
  member        = "serviceAccount:${google_service_account.this["anonymize"].email}"
}

resource "google_kms_crypto_key_iam_member" "expire_encrypter_decrypter" {
  crypto_key_id = google_kms_crypto_key.tenant.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.this["expire"].email}"
}
