output "artifact_registry_url" {
  description = "Where scripts/deploy.sh pushes the function images."
  value       = module.platform.artifact_registry_url
}

output "project_id" {
  description = "The project deployed into (read by scripts/deploy.sh)."
  value       = var.project_id
}

output "secret_ids" {
  description = "Secret ids to add versions to, by tenant and environment variable name."
  value       = { staging = module.tenant.secret_ids }
}

output "tenant" {
  description = "The staging tenant's raw bucket, key, database, service accounts and service URLs."
  value = {
    crypto_key_id    = module.tenant.crypto_key_id
    database_name    = module.tenant.database_name
    raw_bucket       = module.tenant.raw_bucket
    service_accounts = module.tenant.service_accounts
    service_urls     = module.tenant.service_urls
  }
}
