//! `bacca demo`: the whole pipeline for two tenants on embedded backends, with no cloud
//! account and no network.
//!
//! 1. per tenant: a local keyring KEK, a raw "bucket" directory, a replay server of realistic
//!    Slack, Datadog and Jira responses (with planted PII and secrets);
//! 2. the fetch and anonymize functions (the same handlers as in Cloud Run) wired to the
//!    in-process bus with Pub/Sub semantics; one `fetch-requests` message per tenant and
//!    source, then the bus is drained;
//! 3. a summary: records per source, PII found per type (counts), encrypted objects written,
//!    graph size, one similarity query and its answer;
//! 4. the clock moves 31 days; the expire function sweeps; raw data is gone, knowledge stays;
//! 5. every plaintext output (logs, audit, messages, graph database, summary) is scanned for
//!    the planted values: the count found must be 0.

mod scan;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::{bail, Context, Result};
use bacca_audit::AuditSink;
use bacca_bus::{InProcessBus, Message, Publisher, SubscriptionConfig};
use bacca_connectors::replay;
use bacca_crypto::Keyring;
use bacca_runtime::bus_handler;
use chrono::{Duration, Utc};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `bacca demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the demo writes everything (emptied first).
    #[arg(long, default_value = ".bacca-demo")]
    pub dir: PathBuf,
}

/// The demo's log file, under `dir` (the CLI sends the demo's logs there, so they can be
/// scanned with the rest).
pub fn log_path(dir: &Path) -> PathBuf {
    dir.join("logs/bacca.log")
}

/// Empties `dir` (keeping the log file the CLI already opened) and creates it.
pub fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.file_name().is_some_and(|n| n == "logs") {
                continue;
            }
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    std::fs::create_dir_all(dir.join("logs"))?;
    Ok(())
}

fn spinner(msg: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(StdDuration::from_millis(100));
    bar.set_message(msg.to_owned());
    bar
}

fn done(bar: ProgressBar, msg: String) {
    bar.finish_and_clear();
    eprintln!("  ok  {msg}");
}

/// Runs the demo; prints the summary on stdout and saves it as `summary.txt`.
///
/// # Errors
/// Any step failing, or planted PII found in a plaintext output.
pub async fn run(args: Args) -> Result<()> {
    let dir = std::path::absolute(&args.dir)?;
    prepare_dir(&dir)?;
    let now = Utc::now();
    let tenants = replay::tenants();

    // 1. Tenants: keys, buckets, replay servers.
    let bar = spinner("provisioning two tenants (keys, buckets, replay servers)");
    let layout = bacca_runtime::env::LocalLayout::new(&dir);
    let keyring = Keyring::new(layout.keyring_file(), AuditSink::file(layout.audit_file())?);
    let mut fetch_deps = bacca_fetch::Deps::local(&dir)?;
    let pipeline = bacca_anonymize::Pipeline::local(&dir).await?;
    for t in &tenants {
        keyring.create(t.tenant)?;
        fetch_deps.stores.store(t.tenant)?.create_bucket().await?;
    }
    done(bar, format!("{} tenants provisioned", tenants.len()));

    // 2. The pipeline on the in-process bus.
    let bus = Arc::new(InProcessBus::new());
    for topic in [
        "fetch-requests",
        "raw-landed",
        "knowledge-updated",
        "dead-letter",
    ] {
        bus.create_topic(topic);
    }
    let dlq: Arc<dyn Publisher> = bus.clone();
    let sub = || {
        SubscriptionConfig::new()
            .dead_letter("dead-letter", 5)
            .backoff(StdDuration::from_millis(10), StdDuration::from_millis(200))
    };
    let anonymize_deps = bacca_anonymize::Deps {
        pipeline: pipeline.clone(),
        publisher: bus.clone(),
        knowledge_updated_topic: "knowledge-updated".into(),
        tenant: None,
    };
    bus.subscribe(
        "raw-landed",
        "anonymize",
        sub(),
        bus_handler(
            Arc::new(anonymize_deps),
            Some(("dead-letter".into(), dlq.clone())),
        ),
    )?;
    let dead = Arc::new(std::sync::Mutex::new(0u64));
    let dead_count = dead.clone();
    bus.subscribe(
        "dead-letter",
        "dead-letter-audit",
        SubscriptionConfig::new(),
        bacca_bus::handler_fn(move |_d| {
            let dead_count = dead_count.clone();
            async move {
                *dead_count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                Ok(())
            }
        }),
    )?;
    bus.subscribe(
        "knowledge-updated",
        "assistant",
        SubscriptionConfig::new(),
        bacca_bus::handler_fn(|_d| async { Ok(()) }),
    )?;

    fetch_deps.publisher = bus.clone();
    fetch_deps.in_flight = Some(Arc::new(pipeline.clone()));
    let mut secrets_env = std::collections::HashMap::new();
    for (k, v) in [
        ("SLACK_BOT_TOKEN", "xoxb-demo-replay"),
        ("DD_API_KEY", "demo-replay-api-key"),
        ("DD_APP_KEY", "demo-replay-app-key"),
        ("JIRA_EMAIL", "bot@replay.invalid"),
        ("JIRA_API_TOKEN", "demo-replay-jira-token"),
    ] {
        secrets_env.insert(k.to_owned(), v.to_owned());
    }
    fetch_deps.env = Arc::new(secrets_env);

    let sources = ["slack", "datadog", "jira"];
    let bar = ProgressBar::new((tenants.len() * sources.len()) as u64);
    bar.set_style(
        ProgressStyle::with_template("  {bar:30} {pos}/{len} fetch requests {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // In production each tenant has its own fetch service behind a filtered subscription of
    // `fetch-requests`; here each tenant gets its own topic and subscription.
    for t in &tenants {
        let base = replay::start(t, now).await?;
        let mut deps = fetch_deps.clone();
        deps.tenant = Some(t.tenant.to_owned());
        deps.connectors.slack_channels = vec![t.channel.to_owned()];
        deps.connectors.datadog_query = Some(format!("service:{} status:error", t.service));
        for s in sources {
            deps.connectors.base_urls.insert(s.to_owned(), base.clone());
        }
        let topic = format!("fetch-requests-{}", t.tenant);
        bus.create_topic(&topic);
        let mut cfg = sub();
        // One fetch at a time per tenant: a source's checkpoint has one writer.
        cfg.max_concurrency = 1;
        bus.subscribe(
            &topic,
            &format!("fetch-{}", t.tenant),
            cfg,
            bus_handler(Arc::new(deps), Some(("dead-letter".into(), dlq.clone()))),
        )?;
    }
    for t in &tenants {
        let topic = format!("fetch-requests-{}", t.tenant);
        for s in sources {
            let mut msg = Message::new(serde_json::to_vec(&serde_json::json!({
                "tenant": t.tenant, "source": s
            }))?);
            msg.attributes.insert("tenant".into(), t.tenant.to_owned());
            bus.publish(&topic, msg).await?;
            bar.inc(1);
        }
    }
    bar.set_message("(draining the bus)");
    bus.drain().await;
    bar.finish_and_clear();
    eprintln!("  ok  fetch -> raw-landed -> anonymize -> knowledge-updated drained");

    // 3. Summary.
    let mut summary = String::new();
    let audit = bacca_audit::read_file(layout.audit_file(), None, None)?;
    writeln!(
        summary,
        "bacca demo: two tenants, embedded backends, in {}",
        dir.display()
    )?;
    for t in &tenants {
        let events: Vec<_> = audit.iter().filter(|e| e.tenant == t.tenant).collect();
        let mut per_source: BTreeMap<String, i64> = BTreeMap::new();
        let mut pii: BTreeMap<String, i64> = BTreeMap::new();
        let mut objects = 0;
        let mut too_old = 0;
        for e in &events {
            match e.action.as_str() {
                "fetch" => {
                    if let (
                        Some(bacca_audit::AuditValue::Id(s)),
                        Some(bacca_audit::AuditValue::Int(n)),
                    ) = (e.fields.get("source"), e.fields.get("records"))
                    {
                        *per_source.entry(s.clone()).or_default() += n;
                    }
                    if let Some(bacca_audit::AuditValue::Int(n)) = e.fields.get("too_old") {
                        too_old += n;
                    }
                }
                "raw_write" => objects += 1,
                "anonymize" => {
                    for (k, v) in &e.fields {
                        if let (Some(t), bacca_audit::AuditValue::Int(n)) =
                            (k.strip_prefix("pii_"), v)
                        {
                            *pii.entry(t.to_owned()).or_default() += n;
                        }
                    }
                }
                _ => {}
            }
        }
        let graph = pipeline.graph_of(t.tenant).await?;
        let stats = graph.stats().await?;
        let nodes: i64 = stats.nodes.iter().map(|(_, n)| n).sum();
        let edges: i64 = stats.edges.iter().map(|(_, n)| n).sum();
        writeln!(summary, "\ntenant {}", t.tenant)?;
        writeln!(summary, "  records fetched per source : {per_source:?}")?;
        writeln!(
            summary,
            "  records too old to store raw (anonymized in flight): {too_old}"
        )?;
        writeln!(summary, "  PII and secrets found (counts only): {pii:?}")?;
        writeln!(summary, "  encrypted raw objects written: {objects}")?;
        writeln!(summary, "  knowledge graph: {nodes} nodes, {edges} edges")?;
        let answers = graph.similar(t.query, 1).await?;
        writeln!(summary, "  similar to \"{}\":", t.query)?;
        match answers.first() {
            Some(a) => {
                writeln!(
                    summary,
                    "    -> {} (score {:.2}, {} shared signatures, {} shared services)",
                    a.incident.label.as_deref().unwrap_or("(untitled incident)"),
                    a.score,
                    a.shared_signatures,
                    a.shared_services
                )?;
                for action in a.actions.iter().take(3) {
                    writeln!(
                        summary,
                        "       resolved by: {}",
                        action.label.as_deref().unwrap_or("?")
                    )?;
                }
            }
            None => writeln!(summary, "    -> no similar incident")?,
        }
    }
    let dead_letters = *dead.lock().unwrap_or_else(|p| p.into_inner());
    writeln!(summary, "\ndead-lettered messages: {dead_letters}")?;

    // 4. Thirty-one days later.
    let bar = spinner("advancing the clock 31 days and running the retention sweep");
    let mut expire = bacca_expire::Deps::local(&dir)?;
    let later = now + Duration::days(31);
    expire.clock = Arc::new(move || later);
    writeln!(
        summary,
        "\nafter 31 days (simulated clock) the hourly sweep ran:"
    )?;
    for t in &tenants {
        let store = expire.stores.store(t.tenant)?;
        let before = store.list("raw/", None).await?.objects.len();
        let report = expire
            .sweep(&bacca_expire::ExpireRequest::sweep(t.tenant))
            .await?;
        let after = store.list("raw/", None).await?.objects.len();
        let stats = pipeline.graph_of(t.tenant).await?.stats().await?;
        let nodes: i64 = stats.nodes.iter().map(|(_, n)| n).sum();
        writeln!(
            summary,
            "  {}: raw objects {before} -> {after} (deleted {}), knowledge intact: {nodes} nodes",
            t.tenant, report.deleted
        )?;
        if after != 0 {
            bail!("raw data of {} survived the sweep", t.tenant);
        }
    }
    done(bar, "raw data expired, knowledge kept".into());

    // 5. Scan every plaintext output for the planted values.
    let bar = spinner("scanning every plaintext output for the planted PII");
    let planted: Vec<String> = tenants
        .iter()
        .flat_map(replay::TenantData::planted)
        .collect();
    let summary_path = dir.join("summary.txt");
    std::fs::write(&summary_path, &summary)?;
    let found = scan::scan_dir(&dir, &planted).context("scanning outputs")?;
    let found_in_summary = scan::count_in(summary.as_bytes(), &planted);
    let total = found.total + found_in_summary;
    done(
        bar,
        format!(
            "{} files scanned ({} KiB): logs, audit, messages, graph database, summary",
            found.files,
            found.bytes / 1024
        ),
    );
    writeln!(
        summary,
        "\nplanted PII values: {}; found in plaintext outputs: {total}",
        planted.len()
    )?;
    std::fs::write(&summary_path, &summary)?;
    super::print(&summary)?;
    if total != 0 {
        bail!(
            "planted PII found in plaintext outputs: {:?}",
            found.files_with_hits
        );
    }
    Ok(())
}
