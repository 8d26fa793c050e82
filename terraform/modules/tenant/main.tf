locals {
  name   = "${var.name_prefix}-${var.tenant_id}"
  labels = merge(var.labels, { app = "bacca", tenant = var.tenant_id })

  # Credentials each connector reads, under the vendors' own environment variable names.
  source_secrets = {
    confluence = ["CONFLUENCE_API_TOKEN", "CONFLUENCE_EMAIL"]
    datadog    = ["DD_API_KEY", "DD_APP_KEY"]
    jira       = ["JIRA_API_TOKEN", "JIRA_EMAIL"]
    linear     = ["LINEAR_API_KEY"]
    notion     = ["NOTION_TOKEN"]
    slack      = ["SLACK_BOT_TOKEN"]
  }

  # Secret name => the functions allowed to read it. Connector credentials are for fetch only;
  # the tenant's pseudonym key is for anonymize (pseudonymize) and expire (erasure lookups).
  secrets = merge(
    { for env in flatten([for s in keys(var.sources) : local.source_secrets[s]]) : env => ["fetch"] },
    { BACCA_PSEUDONYM_KEY = ["anonymize", "expire"] },
  )

  secret_access = {
    for pair in flatten([for env, fns in local.secrets : [for fn in fns : { env = env, fn = fn }]]) :
    "${pair.env}/${pair.fn}" => pair
  }

  # The three functions: the topic each one is pushed from and its sizing.
  functions = {
    anonymize = { topic = var.topics.raw_landed, ack_deadline_seconds = 600, concurrency = 4, memory = "1Gi" }
    expire    = { topic = var.topics.erasure_requests, ack_deadline_seconds = 300, concurrency = 1, memory = "512Mi" }
    fetch     = { topic = var.topics.fetch_requests, ack_deadline_seconds = 600, concurrency = 4, memory = "512Mi" }
  }

  # A filter rather than `cond ? local.functions : {}`: the two branches of a conditional
  # must have the same type, and an object literal and {} do not.
  deployed = { for fn, spec in local.functions : fn => spec if var.deploy_services }

  # One identity per function plus the identity that Pub/Sub and Scheduler sign push requests as.
  service_accounts = {
    anonymize = "anon"
    expire    = "expire"
    fetch     = "fetch"
    invoker   = "invoker"
  }

  # The OIDC audience each service accepts (Cloud Run custom audience, checked again in the app).
  audiences = { for fn in keys(local.functions) : fn => "bacca:${var.project_id}:${var.tenant_id}:${fn}" }

  database = replace("${var.name_prefix}_${var.tenant_id}", "-", "_")

  # Cloud SQL IAM database users are service account emails without ".gserviceaccount.com".
  graph_users = { for fn in ["anonymize", "expire"] : fn => trimsuffix(google_service_account.this[fn].email, ".gserviceaccount.com") }

  fetch_settings = merge([for s in values(var.sources) : s.settings]...)

  common_env = {
    BACCA_DEAD_LETTER_TOPIC       = var.topics.dead_letter
    BACCA_KMS                     = "gcp-kms://${google_kms_crypto_key.tenant.id}"
    BACCA_KNOWLEDGE_UPDATED_TOPIC = var.topics.knowledge_updated
    BACCA_OIDC_SERVICE_ACCOUNT    = google_service_account.this["invoker"].email
    BACCA_RAW_LANDED_TOPIC        = var.topics.raw_landed
    BACCA_STORE                   = "gs://${google_storage_bucket.raw.name}"
    BACCA_TENANT                  = var.tenant_id
    GOOGLE_CLOUD_PROJECT          = var.project_id
  }

  env = {
    anonymize = merge(local.common_env, {
      BACCA_GRAPH         = "postgres://${urlencode(local.graph_users["anonymize"])}@${var.graph.private_ip}:5432/${local.database}?sslmode=require"
      BACCA_OIDC_AUDIENCE = local.audiences["anonymize"]
    })
    expire = merge(local.common_env, {
      BACCA_GRAPH         = "postgres://${urlencode(local.graph_users["expire"])}@${var.graph.private_ip}:5432/${local.database}?sslmode=require"
      BACCA_OIDC_AUDIENCE = local.audiences["expire"]
    })
    fetch = merge(local.fetch_settings, local.common_env, {
      BACCA_OIDC_AUDIENCE = local.audiences["fetch"]
    })
  }
}
