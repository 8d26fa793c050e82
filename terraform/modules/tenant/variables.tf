variable "access_log_bucket" {
  description = "Name of the bucket that receives the raw bucket's access logs (platform output access_log_bucket)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be a bucket name."
  }
}

variable "deletion_protection" {
  description = "Protects the tenant's Cloud Run services from deletion by Terraform."
  type        = bool
  default     = true
  nullable    = false
}

variable "deploy_services" {
  description = "Create the tenant's Cloud Run services, push subscriptions and scheduler jobs. false keeps a tenant provisioned (key, bucket, secrets, database) without running anything, e.g. while its credentials are being collected."
  type        = bool
  default     = true
  nullable    = false
}

variable "graph" {
  description = "The knowledge graph Cloud SQL instance (platform output graph). Each tenant gets its own database on it."
  type = object({
    connection_name = string
    instance_name   = string
    private_ip      = string
  })
  nullable = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,97}$", var.graph.instance_name))
    error_message = "graph.instance_name must be a Cloud SQL instance name."
  }
}

variable "image_repository" {
  description = "Docker repository holding the bacca-fetch, bacca-anonymize and bacca-expire images (platform output artifact_registry_url)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+$", var.image_repository))
    error_message = "image_repository must be a registry path without a trailing slash or tag, such as europe-west1-docker.pkg.dev/PROJECT/bacca."
  }
}

variable "image_tag" {
  description = "Tag of the function images to run (scripts/deploy.sh uses the git commit)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a Docker tag other than latest (tags are immutable in the registry)."
  }
}

variable "key_ring_id" {
  description = "Id of the KMS key ring in which the tenant's HSM key is created (platform output key_ring_id)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+$", var.key_ring_id))
    error_message = "key_ring_id must look like projects/P/locations/L/keyRings/R."
  }
}

variable "labels" {
  description = "Labels added to every labelled resource."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "Label keys and values must be lowercase letters, digits, '_' or '-' (keys start with a letter), at most 63 characters."
  }
}

variable "max_instance_count" {
  description = "Upper bound of instances per Cloud Run service (the services scale to zero)."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.max_instance_count >= 1 && var.max_instance_count <= 100
    error_message = "max_instance_count must be between 1 and 100."
  }
}

variable "name_prefix" {
  description = "Prefix of the tenant's resource names (platform output name_prefix). Service account ids and the bucket name use the tenant id only, to fit their length limits."
  type        = string
  default     = "bacca"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}$", var.name_prefix))
    error_message = "name_prefix must be 2 to 11 characters: lowercase letters, digits and '-', starting with a letter."
  }
}

variable "network" {
  description = "VPC network and subnetwork ids for Direct VPC egress to Cloud SQL (platform output network)."
  type = object({
    network_id    = string
    subnetwork_id = string
  })
  nullable = false

  validation {
    condition     = can(regex("^projects/[^/]+/global/networks/[^/]+$", var.network.network_id)) && can(regex("^projects/[^/]+/regions/[^/]+/subnetworks/[^/]+$", var.network.subnetwork_id))
    error_message = "network must hold full network and subnetwork ids (projects/P/global/networks/N, projects/P/regions/R/subnetworks/S)."
  }
}

variable "project_id" {
  description = "The Google Cloud project that hosts the pipeline."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid Google Cloud project id."
  }
}

variable "raw_expirer_role_id" {
  description = "Id of the custom role that lists, reads and deletes raw objects (platform output raw_expirer_role_id)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^projects/[^/]+/roles/[A-Za-z0-9_.]{3,64}$", var.raw_expirer_role_id))
    error_message = "raw_expirer_role_id must look like projects/P/roles/ROLE."
  }
}

variable "raw_retention_days" {
  description = "Days after an object's Custom-Time (earliest occurrence of its records) at which the lifecycle backstop deletes it. The hourly sweep deletes at 30 d - 2 h; with up to 24 h of lifecycle lag, 29 keeps the promise of removal within 30 days."
  type        = number
  default     = 29
  nullable    = false

  validation {
    condition     = var.raw_retention_days >= 1 && var.raw_retention_days <= 29
    error_message = "raw_retention_days must be between 1 and 29: lifecycle runs up to 24 h late and raw data must be gone within 30 days."
  }
}

variable "region" {
  description = "Region of the tenant's bucket, key, services and scheduler jobs (the key ring's location)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "service_agents" {
  description = "Emails of the project's Pub/Sub, Secret Manager and Cloud Storage service agents (platform output service_agents)."
  type = object({
    pubsub         = string
    secret_manager = string
    storage        = string
  })
  nullable = false

  validation {
    condition     = alltrue([for email in values(var.service_agents) : can(regex("^[a-z0-9-]+@[a-z0-9.-]+\\.iam\\.gserviceaccount\\.com$", email))])
    error_message = "service_agents must hold service agent emails."
  }
}

variable "sources" {
  description = "The tenant's connectors, by source (confluence, datadog, jira, linear, notion, slack): the fetch schedule (cron, UTC), whether it runs, and plain settings passed to the fetch function as environment variables (e.g. DD_SITE). Credentials go to Secret Manager, never here."
  type = map(object({
    enabled  = optional(bool, true)
    schedule = optional(string, "*/15 * * * *")
    settings = optional(map(string), {})
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for s in keys(var.sources) : contains(["confluence", "datadog", "jira", "linear", "notion", "slack"], s)])
    error_message = "sources keys must be among confluence, datadog, jira, linear, notion, slack."
  }

  validation {
    condition     = alltrue([for s in values(var.sources) : length(split(" ", trimspace(s.schedule))) == 5])
    error_message = "Each source schedule must be a five-field cron expression."
  }

  validation {
    condition     = alltrue(flatten([for s in values(var.sources) : [for k in keys(s.settings) : can(regex("^[A-Z][A-Z0-9_]*$", k)) && !can(regex("(TOKEN|KEY|SECRET|PASSWORD|EMAIL)", k)) && !startswith(k, "BACCA_") && !contains(["GOOGLE_CLOUD_PROJECT", "PORT"], k)]]))
    error_message = "Setting names must be upper-case environment variable names, must not be credentials (TOKEN, KEY, SECRET, PASSWORD, EMAIL: those belong in Secret Manager) and must not be BACCA_*, GOOGLE_CLOUD_PROJECT or PORT."
  }
}

variable "tenant_id" {
  description = "The tenant's id: DNS-safe, 3 to 20 characters (lowercase letters, digits, '-'), starting with a letter. It names the tenant's bucket, key, service accounts and services and is the `tenant` attribute its subscriptions filter on."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.tenant_id)) && !strcontains(var.tenant_id, "--")
    error_message = "tenant_id must be DNS-safe: 3 to 20 lowercase letters, digits or single '-', starting with a letter and not ending with '-'."
  }
}

variable "topics" {
  description = "Full ids of the shared topics (platform output topics)."
  type = object({
    dead_letter       = string
    erasure_requests  = string
    fetch_requests    = string
    knowledge_updated = string
    raw_landed        = string
  })
  nullable = false

  validation {
    condition     = alltrue([for id in values(var.topics) : can(regex("^projects/[^/]+/topics/[^/]+$", id))])
    error_message = "topics must hold full topic ids (projects/P/topics/T)."
  }
}
