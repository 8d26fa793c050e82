# The expire function lists, reads metadata of and deletes raw objects; no predefined role is
# that narrow (objectUser can also create and overwrite).
resource "google_project_iam_custom_role" "raw_expirer" {
  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_raw_expirer"
  title       = "bacca raw data expirer"
  description = "List raw objects, read their metadata and delete them."
  permissions = ["storage.objects.delete", "storage.objects.get", "storage.objects.list"]
}
