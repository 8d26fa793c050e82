variable "deploy_services" {
  description = "Create the tenants' Cloud Run services, subscriptions and scheduler jobs; false provisions the tenants without running anything."
  type        = bool
  default     = true
  nullable    = false
}

variable "image_tag" {
  description = "Tag of the function images in the platform's Artifact Registry (scripts/deploy.sh passes the git commit)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a Docker tag other than latest."
  }
}

variable "project_id" {
  description = "The Google Cloud project to deploy into."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid Google Cloud project id."
  }
}

variable "region" {
  description = "Region of every regional resource."
  type        = string
  default     = "europe-west1"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "tenants" {
  description = "The tenants, by DNS-safe id, with their sources (see modules/tenant variable sources)."
  type = map(object({
    sources = map(object({
      enabled  = optional(bool, true)
      schedule = optional(string, "*/15 * * * *")
      settings = optional(map(string), {})
    }))
  }))
  default = {
    acme = {
      sources = {
        datadog = { settings = { DD_SITE = "datadoghq.eu" } }
        jira    = { schedule = "*/30 * * * *", settings = { JIRA_BASE_URL = "https://acme.atlassian.net" } }
        slack   = {}
      }
    }
    globex = {
      sources = {
        linear = {}
        notion = { schedule = "0 * * * *" }
        slack  = {}
      }
    }
  }
  nullable = false

  validation {
    condition     = alltrue([for id in keys(var.tenants) : can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", id))])
    error_message = "Tenant ids must be DNS-safe: 3 to 20 lowercase letters, digits or '-', starting with a letter."
  }
}
