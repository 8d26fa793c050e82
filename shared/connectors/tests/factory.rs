//! `connector_from_args`: credentials from the environment, arguments checked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use bacca_audit::AuditSink;
use bacca_connectors::{connector_from_args, ConnectorArgs, Error, SourceKind};

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn builds_each_available_connector_from_the_vendor_variables() {
    let audit = AuditSink::Discard;
    let slack = ConnectorArgs::new(SourceKind::Slack, "t").channels(vec!["C1".into()]);
    let e = connector_from_args(&slack, &env(&[]), audit.clone()).unwrap_err();
    assert!(matches!(e, Error::Credential { ref name, .. } if name == "SLACK_BOT_TOKEN"));
    let s = connector_from_args(
        &slack,
        &env(&[("SLACK_BOT_TOKEN", "xoxb-1")]),
        audit.clone(),
    )
    .unwrap();
    assert_eq!(s.kind(), SourceKind::Slack);

    let dd = ConnectorArgs::new(SourceKind::Datadog, "t").query("service:web");
    let keys = [("DD_API_KEY", "a"), ("DD_APP_KEY", "b")];
    assert!(connector_from_args(&dd, &env(&keys), audit.clone()).is_ok());
    let mut bad_site = keys.to_vec();
    bad_site.push(("DD_SITE", "evil.example"));
    assert!(matches!(
        connector_from_args(&dd, &env(&bad_site), audit.clone()),
        Err(Error::Config(_))
    ));

    let jira = ConnectorArgs::new(SourceKind::Jira, "t").base_url("https://acme.atlassian.net");
    let creds = env(&[
        ("JIRA_EMAIL", "bot@acme.example"),
        ("JIRA_API_TOKEN", "tok"),
    ]);
    assert!(connector_from_args(&jira, &creds, audit.clone()).is_ok());
    let no_site = ConnectorArgs::new(SourceKind::Jira, "t");
    assert!(connector_from_args(&no_site, &creds, audit.clone()).is_err());

    let export = ConnectorArgs::new(SourceKind::SlackExport, "t").channels(vec!["C1".into()]);
    assert!(matches!(
        connector_from_args(&export, &env(&[]), audit.clone()),
        Err(Error::Config(_))
    ));
    let missing = export.input("/nonexistent/export.zip");
    assert!(matches!(
        connector_from_args(&missing, &env(&[]), audit),
        Err(Error::Io(_))
    ));
}

#[test]
fn source_kinds_parse() {
    for k in [
        "slack",
        "slack-export",
        "datadog",
        "jira",
        "linear",
        "confluence",
        "notion",
        "gdrive",
    ] {
        assert_eq!(k.parse::<SourceKind>().unwrap().as_str(), k);
    }
    assert!("s3".parse::<SourceKind>().is_err());
}
