# Audit events (one per connector API call, key use and deletion) are written by the
# functions as JSON lines on stdout with `"target": "audit"` (the tracing target of
# bacca_audit::AuditSink::Tracing), or through the Logging API to the log name `bacca-audit`;
# this sink routes both to a locked bucket, so they can be neither edited nor deleted before
# audit_log_retention_days.
resource "google_logging_project_bucket_config" "audit" {
  project        = var.project_id
  location       = var.region
  bucket_id      = "${var.name_prefix}-audit"
  description    = "bacca audit events (locked retention)"
  retention_days = var.audit_log_retention_days
  locked         = true

  cmek_settings {
    kms_key_name = google_kms_crypto_key.platform["logs"].id
  }

  depends_on = [google_kms_crypto_key_iam_member.service_agent]
}

resource "google_logging_project_sink" "audit" {
  project                = var.project_id
  name                   = "${var.name_prefix}-audit"
  description            = "Routes the bacca-audit log to the locked audit bucket."
  destination            = "logging.googleapis.com/${google_logging_project_bucket_config.audit.id}"
  filter                 = "logName=\"projects/${var.project_id}/logs/${var.audit_log_name}\" OR (resource.type=\"cloud_run_revision\" AND jsonPayload.target=\"audit\")"
  unique_writer_identity = true
}
