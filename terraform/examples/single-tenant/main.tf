# A small staging environment: one tenant fed by a Slack export workspace and Datadog, a
# zonal Cloud SQL instance on a small tier, at most two instances per service, and a
# shorter audit retention. The data guarantees (CMEK, HSM keys, retention, IAM) are the same
# as in production: they live in the modules, not in this file.
module "platform" {
  source = "../../modules/platform"

  project_id                = var.project_id
  region                    = var.region
  name_prefix               = "bacca"
  sql_availability_type     = "ZONAL"
  sql_tier                  = "db-custom-1-3840"
  sql_backup_retained_count = 7
  audit_log_retention_days  = 90
  labels                    = { env = "staging" }
}

module "tenant" {
  source = "../../modules/tenant"

  tenant_id           = "staging"
  project_id          = var.project_id
  region              = var.region
  name_prefix         = module.platform.name_prefix
  access_log_bucket   = module.platform.access_log_bucket
  graph               = module.platform.graph
  image_repository    = module.platform.artifact_registry_url
  image_tag           = var.image_tag
  key_ring_id         = module.platform.key_ring_id
  network             = module.platform.network
  raw_expirer_role_id = module.platform.raw_expirer_role_id
  service_agents      = module.platform.service_agents
  topics              = module.platform.topics
  deploy_services     = var.deploy_services
  max_instance_count  = 2
  labels              = { env = "staging" }

  sources = {
    datadog = { schedule = "0 * * * *", settings = { DD_SITE = "datadoghq.eu" } }
    slack   = { schedule = "30 * * * *" }
  }
}
