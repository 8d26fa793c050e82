//! Read-only, least-privilege source connectors: Slack, Datadog, Jira, Linear, Confluence, Notion, Google Drive.

#![forbid(unsafe_code)]
