output "access_log_bucket" {
  description = "Name of the bucket that receives the raw buckets' access logs."
  value       = google_storage_bucket.access_logs.name
  depends_on  = [google_storage_bucket_iam_member.access_log_writer]
}

output "artifact_registry_url" {
  description = "Docker repository URL to push the function images to (REGION-docker.pkg.dev/PROJECT/REPOSITORY)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "audit_log_bucket" {
  description = "Resource id of the locked log bucket holding audit events."
  value       = google_logging_project_bucket_config.audit.id
}

output "graph" {
  description = "The Cloud SQL instance of the knowledge graph: instance name, connection name and private IP."
  value = {
    connection_name = google_sql_database_instance.graph.connection_name
    instance_name   = google_sql_database_instance.graph.name
    private_ip      = google_sql_database_instance.graph.private_ip_address
  }
}

output "key_ring_id" {
  description = "Id of the KMS key ring that holds the platform keys and every tenant's key."
  value       = google_kms_key_ring.this.id
}

output "name_prefix" {
  description = "The name prefix, passed on to the tenant module."
  value       = var.name_prefix
}

output "network" {
  description = "VPC network and subnetwork ids Cloud Run uses for Direct VPC egress to Cloud SQL."
  value = {
    network_id    = google_compute_network.this.id
    subnetwork_id = google_compute_subnetwork.run.id
  }
}

output "platform_key_ids" {
  description = "Ids of the platform HSM keys, by purpose (artifacts, logs, pubsub, sql, storage)."
  value       = { for k, key in google_kms_crypto_key.platform : k => key.id }
  depends_on  = [google_kms_crypto_key_iam_member.service_agent]
}

output "raw_expirer_role_id" {
  description = "Id of the custom role that lets an expire function list, read and delete raw objects."
  value       = google_project_iam_custom_role.raw_expirer.id
}

output "service_agents" {
  description = "Emails of the Google service agents that the tenant module grants on tenant resources."
  value = {
    pubsub         = google_project_service_identity.this["pubsub.googleapis.com"].email
    secret_manager = google_project_service_identity.this["secretmanager.googleapis.com"].email
    storage        = data.google_storage_project_service_account.this.email_address
  }
}

output "topics" {
  description = "Full ids (projects/P/topics/T) of the shared topics."
  value = {
    dead_letter       = google_pubsub_topic.this["dead-letter"].id
    erasure_requests  = google_pubsub_topic.this["erasure-requests"].id
    fetch_requests    = google_pubsub_topic.this["fetch-requests"].id
    knowledge_updated = google_pubsub_topic.this["knowledge-updated"].id
    raw_landed        = google_pubsub_topic.this["raw-landed"].id
  }
  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_pubsub_topic_iam_member.scheduler_publisher,
  ]
}
