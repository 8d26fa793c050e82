variable "access_log_retention_days" {
  description = "Days the access-log bucket keeps the raw buckets' usage logs."
  type        = number
  default     = 90
  nullable    = false

  validation {
    condition     = var.access_log_retention_days >= 1 && var.access_log_retention_days <= 3650
    error_message = "access_log_retention_days must be between 1 and 3650."
  }
}

variable "audit_log_name" {
  description = "Log name the functions write audit events to; the audit sink routes exactly this log."
  type        = string
  default     = "bacca-audit"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,100}$", var.audit_log_name))
    error_message = "audit_log_name must be a plain log id (letters, digits, '_', '-', '.')."
  }
}

variable "audit_log_retention_days" {
  description = "Days the locked audit log bucket keeps audit events. Locking makes this a floor that cannot be lowered later."
  type        = number
  default     = 400
  nullable    = false

  validation {
    condition     = var.audit_log_retention_days >= 30 && var.audit_log_retention_days <= 3650
    error_message = "audit_log_retention_days must be between 30 and 3650."
  }
}

variable "deletion_protection" {
  description = "Protects the Cloud SQL instance from deletion by Terraform and by the API."
  type        = bool
  default     = true
  nullable    = false
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

variable "message_retention_seconds" {
  description = "How long topics keep messages (seconds). Messages carry pointers, never content; bounded to 7 days."
  type        = number
  default     = 604800
  nullable    = false

  validation {
    condition     = var.message_retention_seconds >= 600 && var.message_retention_seconds <= 604800
    error_message = "message_retention_seconds must be between 600 (10 minutes) and 604800 (7 days)."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name, so several deployments can share a project."
  type        = string
  default     = "bacca"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}$", var.name_prefix))
    error_message = "name_prefix must be 2 to 11 characters: lowercase letters, digits and '-', starting with a letter."
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

variable "region" {
  description = "Region of every regional resource (KMS key ring, buckets, Cloud SQL, Cloud Run, Pub/Sub storage)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "sql_availability_type" {
  description = "Cloud SQL availability: REGIONAL (high availability) or ZONAL."
  type        = string
  default     = "REGIONAL"
  nullable    = false

  validation {
    condition     = contains(["REGIONAL", "ZONAL"], var.sql_availability_type)
    error_message = "sql_availability_type must be REGIONAL or ZONAL."
  }
}

variable "sql_backup_retained_count" {
  description = "Number of daily Cloud SQL backups kept."
  type        = number
  default     = 14
  nullable    = false

  validation {
    condition     = var.sql_backup_retained_count >= 7 && var.sql_backup_retained_count <= 365
    error_message = "sql_backup_retained_count must be between 7 and 365."
  }
}

variable "sql_tier" {
  description = "Cloud SQL machine tier of the knowledge graph database."
  type        = string
  default     = "db-custom-2-7680"
  nullable    = false

  validation {
    condition     = can(regex("^db-", var.sql_tier))
    error_message = "sql_tier must be a Cloud SQL tier such as db-custom-2-7680."
  }
}

variable "subnet_cidr" {
  description = "CIDR range of the subnetwork Cloud Run uses (Direct VPC egress) to reach Cloud SQL's private IP. Direct VPC egress takes about two addresses per instance: size it for tenants x 3 services x max_instance_count x 2."
  type        = string
  default     = "10.20.0.0/18"
  nullable    = false

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr must be an IPv4 CIDR range."
  }
}
