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
  value       = { for id, t in module.tenant : id => t.secret_ids }
}

output "tenants" {
  description = "Per tenant: raw bucket, key, database, service accounts and service URLs."
  value = {
    for id, t in module.tenant : id => {
      crypto_key_id    = t.crypto_key_id
      database_name    = t.database_name
      raw_bucket       = t.raw_bucket
      service_accounts = t.service_accounts
      service_urls     = t.service_urls
    }
  }
}
