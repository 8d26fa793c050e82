# The knowledge graph: PostgreSQL on a private IP only, encrypted with a platform HSM key,
# TLS required, IAM database authentication (service accounts log in with OAuth tokens, no
# passwords), daily backups with point-in-time recovery. Each tenant gets its own database
# (modules/tenant) on this instance.
resource "google_sql_database_instance" "graph" {
  #checkov:skip=CKV_GCP_6:ssl_mode ENCRYPTED_ONLY rejects every connection without TLS; client certificates are replaced by IAM database authentication (short-lived tokens) over the private IP.
  project             = var.project_id
  name                = "${var.name_prefix}-graph"
  region              = var.region
  database_version    = "POSTGRES_18"
  encryption_key_name = google_kms_crypto_key.platform["sql"].id
  deletion_protection = var.deletion_protection

  settings {
    tier                        = var.sql_tier
    edition                     = "ENTERPRISE"
    availability_type           = var.sql_availability_type
    deletion_protection_enabled = var.deletion_protection
    disk_autoresize             = true
    disk_type                   = "PD_SSD"
    user_labels                 = local.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.this.id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "02:00"
      location                       = var.region
      transaction_log_retention_days = 7

      backup_retention_settings {
        retained_backups = var.sql_backup_retained_count
        retention_unit   = "COUNT"
      }
    }

    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }

    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }

    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }

    database_flags {
      name  = "log_connections"
      value = "on"
    }

    database_flags {
      name  = "log_disconnections"
      value = "on"
    }

    database_flags {
      name  = "log_duration"
      value = "on"
    }

    database_flags {
      name  = "log_hostname"
      value = "on"
    }

    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }

    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }

    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }

    database_flags {
      name  = "log_min_messages"
      value = "warning"
    }

    database_flags {
      name  = "log_statement"
      value = "ddl"
    }

    database_flags {
      name  = "log_temp_files"
      value = "0"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }
  }

  depends_on = [
    google_kms_crypto_key_iam_member.service_agent,
    google_service_networking_connection.sql,
  ]
}
