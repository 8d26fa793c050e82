# Two tenants on one platform: a copyable root module. Each tenant gets its own bucket, HSM
# key, service accounts, services, subscriptions, scheduler jobs, secrets and database.
module "platform" {
  source = "../../modules/platform"

  project_id          = var.project_id
  region              = var.region
  deletion_protection = true
  labels              = { env = "example" }
}

module "tenant" {
  source   = "../../modules/tenant"
  for_each = var.tenants

  tenant_id           = each.key
  sources             = each.value.sources
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
  raw_retention_days  = 29
  service_agents      = module.platform.service_agents
  topics              = module.platform.topics
  deploy_services     = var.deploy_services
  deletion_protection = true
  labels              = { env = "example" }
}
