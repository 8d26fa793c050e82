//! Built-in local servers that replay realistic Slack, Datadog and Jira API responses for two
//! demo tenants, so the real connector code runs with no network (`bacca demo`, the pipeline
//! tests and benchmarks). The payloads carry
//! planted PII and secrets (names, e-mails, phones, tokens, IPs, a card number), which the
//! demo later proves never reach a plaintext output.

use std::net::SocketAddr;

use axum::extract::{Path, Query};
use axum::routing::{any, get};
use axum::{Json, Router};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

/// One planted person.
#[derive(Debug, Clone)]
pub struct Person {
    /// Slack user id.
    pub slack_id: &'static str,
    /// Atlassian account id.
    pub jira_id: &'static str,
    /// Real name.
    pub name: &'static str,
    /// Slack handle.
    pub handle: &'static str,
    /// E-mail.
    pub email: &'static str,
    /// Phone.
    pub phone: &'static str,
}

/// One demo tenant: its people, services and the values planted in its data.
#[derive(Debug, Clone)]
pub struct TenantData {
    /// Tenant id.
    pub tenant: &'static str,
    /// The incident channel (the Slack allowlist).
    pub channel: &'static str,
    /// Two people.
    pub people: [Person; 2],
    /// The service that breaks.
    pub service: &'static str,
    /// Its upstream.
    pub upstream: &'static str,
    /// A leaked secret.
    pub secret: &'static str,
    /// A public IP of a customer.
    pub customer_ip: &'static str,
    /// The Jira key of the incident ticket.
    pub ticket: &'static str,
    /// The similarity query the demo asks.
    pub query: &'static str,
}

/// The two demo tenants.
pub fn tenants() -> [TenantData; 2] {
    [
        TenantData {
            tenant: "acme",
            channel: "C0ACMEINC",
            people: [
                Person {
                    slack_id: "U0ACME0DW",
                    jira_id: "5b10ac8d82e05b22cc7d4ef5",
                    name: "Dana Whitfield",
                    handle: "dwhitfield",
                    email: "dana.whitfield@acme-corp.example",
                    phone: "+1 415 555 0142",
                },
                Person {
                    slack_id: "U0ACME0RC",
                    jira_id: "5b10a2844c20165700ede21g",
                    name: "Ravi Chandrasekar",
                    handle: "ravic",
                    email: "ravi.chandrasekar@acme-corp.example",
                    phone: "+1 212 555 0199",
                },
            ],
            service: "checkout-api",
            upstream: "payments-api",
            secret: "postgres://checkout:Hunter2Sup3rS3cret@orders-db.internal:5432/orders",
            customer_ip: "203.0.113.45",
            ticket: "OPS-101",
            query: "checkout-api upstream timeout calling payments-api after 5120ms",
        },
        TenantData {
            tenant: "globex",
            channel: "C0GLBXINC",
            people: [
                Person {
                    slack_id: "U0GLBX0ML",
                    jira_id: "6c21bd9e93f16c33dd8e5fa6",
                    name: "Mei Lin",
                    handle: "meilin",
                    email: "mei.lin@globex.example",
                    phone: "+44 20 7946 0958",
                },
                Person {
                    slack_id: "U0GLBX0TN",
                    jira_id: "6c21bd9e93f16c33dd8e5fb7",
                    name: "Tomasz Nowak",
                    handle: "tnowak",
                    email: "tomasz.nowak@globex.example",
                    phone: "+48 22 555 01 23",
                },
            ],
            service: "search-api",
            upstream: "redis-cache",
            secret: "AKIAZ7QWERTYUIOP4XYZ",
            customer_ip: "198.51.100.77",
            ticket: "INC-7",
            query: "search-api connection refused to redis-cache after 3 retries",
        },
    ]
}

impl TenantData {
    /// Every value planted in this tenant's data that must never appear in plaintext.
    pub fn planted(&self) -> Vec<String> {
        let mut v = vec![
            self.secret.to_owned(),
            self.customer_ip.to_owned(),
            "4111 1111 1111 1111".to_owned(),
        ];
        for p in &self.people {
            v.extend([
                p.slack_id.to_owned(),
                p.jira_id.to_owned(),
                p.name.to_owned(),
                p.email.to_owned(),
                p.phone.to_owned(),
                format!("@{}", p.handle),
            ]);
        }
        v
    }
}

fn ts(t: DateTime<Utc>) -> String {
    format!("{}.{:06}", t.timestamp(), t.timestamp_subsec_micros())
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn jira_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

fn adf(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

/// The API responses of one tenant, relative to `now`.
#[derive(Debug, Clone)]
struct Responses {
    history: Value,
    replies: Value,
    logs: Value,
    incidents: Value,
    monitors: Value,
    jira: Value,
}

fn responses(d: &TenantData, now: DateTime<Utc>) -> Responses {
    let [a, b] = &d.people;
    let start = now - Duration::days(2);
    let root = start + Duration::minutes(5);
    let old = now - Duration::days(40);
    let history = json!({
        "ok": true,
        "messages": [
            {"type": "message", "user": b.slack_id, "ts": ts(start + Duration::minutes(50)),
             "text": format!("FYI the old connection string {} was pasted in the runbook; rotating it now", d.secret)},
            {"type": "message", "user": a.slack_id, "ts": ts(start + Duration::minutes(40)),
             "text": format!("call me at {} if it comes back. Customer {} reported card 4111 1111 1111 1111 in an error page", a.phone, d.customer_ip)},
            {"type": "message", "user": a.slack_id, "ts": ts(root), "thread_ts": ts(root),
             "reply_count": 2,
             "text": format!("SEV2: {} returning 502s since deploy v4.12.0, paging <@{}>", d.service, b.slack_id)},
            {"type": "message", "user": b.slack_id, "ts": ts(old),
             "text": format!("old outage: {} OOMKilled, restarted pods; ping {} ({})", d.upstream, a.name, a.email)}
        ],
        "has_more": false,
        "response_metadata": {"next_cursor": ""}
    });
    let replies = json!({
        "ok": true,
        "messages": [
            {"type": "message", "user": a.slack_id, "ts": ts(root), "thread_ts": ts(root),
             "text": format!("SEV2: {} returning 502s since deploy v4.12.0, paging <@{}>", d.service, b.slack_id)},
            {"type": "message", "user": b.slack_id, "ts": ts(root + Duration::minutes(3)), "thread_ts": ts(root),
             "text": format!("<@{}> looking. {} pods {}-7d9f8b6c5-x2kq9 time out calling {}", a.slack_id, d.service, d.service, d.upstream)},
            {"type": "message", "user": b.slack_id, "ts": ts(root + Duration::minutes(20)), "thread_ts": ts(root),
             "text": format!("rolled back to v4.11.3 with kubectl rollout undo, error rate back to normal. thanks {} (@{})", a.name, a.handle)}
        ],
        "has_more": false,
        "response_metadata": {"next_cursor": ""}
    });
    let mut log_events = Vec::new();
    for i in 0..12u32 {
        let t = start + Duration::minutes(2) + Duration::seconds(i64::from(i) * 17);
        log_events.push(json!({
            "id": format!("AAAAAZ{}{:04}", d.tenant, i),
            "type": "log",
            "attributes": {
                "timestamp": rfc(t),
                "host": format!("ip-10-2-3-{}", 10 + i % 3),
                "service": d.service,
                "status": "error",
                "message": format!("upstream timeout calling {} after {}ms", d.upstream, 4000 + i * 37),
                "tags": [format!("service:{}", d.service), "env:prod"],
                "attributes": {"usr": {"email": a.email, "name": a.name}, "network": {"client": {"ip": d.customer_ip}}}
            }
        }));
    }
    log_events.push(json!({
        "id": format!("AAAAAZ{}pool", d.tenant), "type": "log",
        "attributes": {"timestamp": rfc(start + Duration::minutes(6)), "host": "db-proxy-7",
            "service": d.service, "status": "error", "message": "connection pool exhausted (max=200)",
            "tags": ["env:prod"], "attributes": {}}
    }));
    let logs = json!({"data": log_events, "meta": {"elapsed": 12, "status": "done"}});
    let incidents = json!({
        "data": [{
            "type": "incidents", "id": format!("00000000-0000-0000-0000-{}", "0000000000aa"),
            "attributes": {
                "public_id": 7,
                "title": format!("{} 502s after deploy v4.12.0", d.service),
                "created": rfc(root + Duration::minutes(1)), "modified": rfc(root + Duration::minutes(30)),
                "detected": rfc(root), "customer_impact_start": rfc(start),
                "resolved": rfc(root + Duration::minutes(25)), "severity": "SEV-2", "state": "resolved",
                "fields": {"summary": {"type": "textbox", "value": format!("Deploy v4.12.0 broke calls to {}; rolled back. Commander {}", d.upstream, a.name)}}
            },
            "relationships": {"commander_user": {"data": {"type": "users", "id": "u-1"}}}
        }],
        "included": [{"type": "users", "id": "u-1", "attributes": {"email": a.email, "handle": a.email, "name": a.name}}],
        "meta": {"pagination": {"offset": 0, "size": 1, "next_offset": 1}}
    });
    let monitors = json!([{
        "id": 4242, "name": format!("{} 5xx rate", d.service), "type": "query alert",
        "query": format!("sum(last_5m):sum:trace.http.request.errors{{service:{}}} > 50", d.service),
        "message": format!("5xx above threshold. @slack-incidents @{}", a.email),
        "tags": [format!("service:{}", d.service)], "overall_state": "OK",
        "created": rfc(start - Duration::days(1)), "modified": rfc(start),
        "creator": {"email": a.email, "handle": a.email, "name": a.name, "id": 1}
    }]);
    let jira = json!({
        "issues": [{
            "id": "10101", "key": d.ticket,
            "fields": {
                "summary": format!("{} 502s after deploy v4.12.0", d.service),
                "description": adf(&format!("Reported by {} ({}). Error logs show upstream timeouts to {}.", a.name, a.phone, d.upstream)),
                "created": jira_time(root + Duration::minutes(2)), "updated": jira_time(root + Duration::minutes(40)),
                "status": {"name": "Done"}, "resolution": {"name": "Fixed"},
                "project": {"key": d.ticket.split('-').next().unwrap_or("OPS")},
                "reporter": {"accountId": a.jira_id, "displayName": a.name, "emailAddress": a.email},
                "assignee": {"accountId": b.jira_id, "displayName": b.name, "emailAddress": b.email},
                "labels": ["incident"],
                "comment": {"comments": [{
                    "id": "20001", "author": {"accountId": b.jira_id, "displayName": b.name, "emailAddress": b.email},
                    "body": adf(&format!("Rolled back to v4.11.3; follow-up: add a canary for {}. cc {}", d.service, a.name)),
                    "created": jira_time(root + Duration::minutes(30)), "updated": jira_time(root + Duration::minutes(30))
                }], "maxResults": 1, "total": 1, "startAt": 0}
            },
            "changelog": {"startAt": 0, "maxResults": 0, "total": 0, "histories": []}
        }],
        "isLast": true
    });
    Responses {
        history,
        replies,
        logs,
        incidents,
        monitors,
        jira,
    }
}

fn offset_zero(q: &std::collections::HashMap<String, String>, key: &str) -> bool {
    q.get(key).is_none_or(|v| v == "0")
}

/// Starts the replay server of one tenant on loopback; returns its base URL.
///
/// # Errors
/// When no loopback port can be bound.
pub async fn start(d: &TenantData, now: DateTime<Utc>) -> std::io::Result<String> {
    let r = responses(d, now);
    let (history, replies, logs, incidents, monitors, jira) = (
        r.history,
        r.replies,
        r.logs,
        r.incidents,
        r.monitors,
        r.jira,
    );
    let app = Router::new()
        .route("/conversations.history", get(move || async move { Json(history) }))
        .route("/conversations.replies", get(move || async move { Json(replies) }))
        .route("/api/v2/logs/events/search", any(move || async move { Json(logs) }))
        .route(
            "/api/v2/incidents",
            get(move |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                if offset_zero(&q, "page[offset]") {
                    Json(incidents)
                } else {
                    Json(json!({"data": [], "included": [], "meta": {"pagination": {"offset": 1, "size": 0}}}))
                }
            }),
        )
        .route(
            "/api/v1/monitor",
            get(move |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                if offset_zero(&q, "page") {
                    Json(monitors)
                } else {
                    Json(json!([]))
                }
            }),
        )
        .route("/rest/api/3/search/jql", any(move || async move { Json(jira) }))
        .route(
            "/rest/api/3/issue/{key}/comment",
            get(|Path(_key): Path<String>| async {
                Json(json!({"comments": [], "maxResults": 0, "total": 0, "startAt": 0}))
            }),
        );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}
