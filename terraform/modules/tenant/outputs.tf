output "crypto_key_id" {
  description = "Id of the tenant's HSM key (BACCA_KMS is gcp-kms://<this id>)."
  value       = google_kms_crypto_key.tenant.id
  depends_on = [
    google_kms_crypto_key_iam_member.anonymize_decrypter,
    google_kms_crypto_key_iam_member.fetch_encrypter,
  ]
}

output "database_name" {
  description = "Name of the tenant's database on the knowledge graph instance."
  value       = google_sql_database.graph.name
}

output "graph_users" {
  description = "Cloud SQL IAM database users of the anonymize and expire functions, to grant privileges to in the schema migration."
  value       = { for fn, user in google_sql_user.graph : fn => user.name }
}

output "raw_bucket" {
  description = "Name of the tenant's raw bucket (BACCA_STORE is gs://<this name>)."
  value       = google_storage_bucket.raw.name
  depends_on = [
    google_storage_bucket_iam_member.anonymize_reader,
    google_storage_bucket_iam_member.expire_deleter,
    google_storage_bucket_iam_member.fetch_checkpoints,
    google_storage_bucket_iam_member.fetch_creator,
  ]
}

output "secret_ids" {
  description = "Secret Manager secret ids, by environment variable name. Add a version to each before the services are deployed."
  value       = { for env, secret in google_secret_manager_secret.this : env => secret.secret_id }
  depends_on  = [google_secret_manager_secret_iam_member.access]
}

output "service_accounts" {
  description = "Emails of the tenant's service accounts, by function (and invoker)."
  value       = { for fn, sa in google_service_account.this : fn => sa.email }
}

output "service_urls" {
  description = "URLs of the tenant's Cloud Run services, by function (empty while deploy_services is false)."
  value       = { for fn, svc in google_cloud_run_v2_service.this : fn => svc.uri }
  depends_on  = [google_cloud_run_v2_service_iam_member.invoker]
}

output "subscriptions" {
  description = "Ids of the tenant's push subscriptions, by function."
  value       = { for fn, sub in google_pubsub_subscription.push : fn => sub.id }
  depends_on  = [google_pubsub_subscription_iam_member.dead_letter_subscriber]
}
