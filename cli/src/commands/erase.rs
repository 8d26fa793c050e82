//! `bacca erase`: data-subject erasure on a local layout (the directory of `bacca demo` or
//! `bacca run`): the expire function's erasure, with the anonymize function's keys and graph
//! in the same directory. Prints the counts as JSON; the `erasure` audit event goes to
//! `<dir>/audit.jsonl`. Neither holds the identifier.

use std::path::PathBuf;

use anyhow::{Context, Result};
use bacca_expire::{ExpireRequest, Subject};

/// Arguments of `bacca erase`. At least one of `--email`, `--slack-user`, `--jira-account`.
#[derive(clap::Args)]
pub struct Args {
    /// Tenant id.
    #[arg(long)]
    tenant: String,
    /// An e-mail address of the person.
    #[arg(long)]
    email: Option<String>,
    /// Their Slack user id (`U…`).
    #[arg(long)]
    slack_user: Option<String>,
    /// Their Atlassian account id (Jira, Confluence).
    #[arg(long)]
    jira_account: Option<String>,
    /// An extra name they go by (for data whose raw records have expired).
    #[arg(long)]
    name: Option<String>,
    /// An extra handle they use, without `@`.
    #[arg(long)]
    handle: Option<String>,
    /// The local data directory (keyring, objects, graph, secrets, audit).
    #[arg(long, default_value = ".bacca-demo")]
    dir: PathBuf,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("tenant", &self.tenant)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Erases the subject and prints the report.
pub async fn run(args: Args) -> Result<()> {
    let dir = std::path::absolute(&args.dir)?;
    let deps = bacca_expire::Deps::local_with_erasure(&dir)
        .await
        .context("opening the local layout")?;
    let subject = Subject {
        email: args.email,
        slack_user: args.slack_user,
        jira_account: args.jira_account,
        name: args.name,
        handle: args.handle,
    };
    let report = deps
        .erase(&ExpireRequest::erase(&args.tenant, subject))
        .await
        .context("erasure failed; what was done is in the audit event, run it again")?;
    super::print(&format!("{}\n", serde_json::to_string_pretty(&report)?))
}
