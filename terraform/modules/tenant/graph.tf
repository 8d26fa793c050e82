# The tenant's own database on the shared instance, and IAM database users for the two
# functions that use the graph. Privileges inside PostgreSQL are granted by the schema
# migration (see the module README), not by Terraform.
resource "google_sql_database" "graph" {
  project  = var.project_id
  instance = var.graph.instance_name
  name     = local.database
}

resource "google_sql_user" "graph" {
  for_each = local.graph_users

  project  = var.project_id
  instance = var.graph.instance_name
  name     = each.value
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}

resource "google_project_iam_member" "graph_client" {
  for_each = {
    for pair in setproduct(keys(local.graph_users), ["roles/cloudsql.client", "roles/cloudsql.instanceUser"]) :
    "${pair[0]}/${pair[1]}" => { fn = pair[0], role = pair[1] }
  }

  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.this[each.value.fn].email}"

  condition {
    title       = "graph-instance-only"
    description = "Only the knowledge graph instance."
    expression  = "resource.name == \"projects/${var.project_id}/instances/${var.graph.instance_name}\""
  }
}
