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
  description = "The Google Cloud project of the staging environment (keep it separate from production)."
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
