# The expire function lists, reads and deletes raw objects (retention sweep) and, for
# data-subject erasure, writes a rewritten batch back under its own name (create with
# ifGenerationMatch); no predefined role is that narrow (objectUser also manages ACLs,
# multipart uploads and more).
resource "google_project_iam_custom_role" "raw_expirer" {
  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_raw_expirer"
  title       = "bacca raw data expirer"
  description = "List, read and delete raw objects; rewrite them for data-subject erasure."
  permissions = ["storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.list"]
}
