//! Parse + normalize throughput of Slack history pages and Datadog log pages (records/s).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use bacca_connectors::datadog::parse_logs_page;
use bacca_connectors::slack::parse_history_page;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

const SLACK: &str = include_str!("../testdata/slack/history_page1.json");
const DATADOG: &str = include_str!("../testdata/datadog/logs_page1.json");

/// A page of `n` messages built from the documented fixture, with distinct ts and text.
fn slack_page(n: usize) -> Vec<u8> {
    let base: Value = serde_json::from_str(SLACK).unwrap();
    let templates = base["messages"].as_array().unwrap().clone();
    let messages: Vec<Value> = (0..n)
        .map(|i| {
            let mut m = templates[i % templates.len()].clone();
            let ts = format!("{}.{:06}", 1_700_000_000 + i, i % 1_000_000);
            m["ts"] = json!(ts);
            if m.get("thread_ts").is_some() {
                m["thread_ts"] = json!(ts);
            }
            m["text"] = json!(format!("{} #{i}", m["text"].as_str().unwrap()));
            m
        })
        .collect();
    serde_json::to_vec(&json!({
        "ok": true, "messages": messages, "has_more": true,
        "response_metadata": {"next_cursor": "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"}
    }))
    .unwrap()
}

/// A page of `n` log events built from the documented fixture.
fn datadog_page(n: usize) -> Vec<u8> {
    let mut base: Value = serde_json::from_str(DATADOG).unwrap();
    let templates = base["data"].as_array().unwrap().clone();
    let data: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = templates[i % templates.len()].clone();
            e["id"] = json!(format!("AAAAAYvQ1BTqS2d4tAAAAABBWXZRMUJU{i:08}"));
            e["attributes"]["timestamp"] = json!(format!(
                "2023-11-14T22:{:02}:{:02}.{:03}Z",
                (i / 60) % 60,
                i % 60,
                i % 1000
            ));
            e
        })
        .collect();
    base["data"] = Value::Array(data);
    serde_json::to_vec(&base).unwrap()
}

fn bench(c: &mut Criterion) {
    let slack = slack_page(999);
    let mut g = c.benchmark_group("slack_history_page");
    g.throughput(Throughput::Elements(999));
    g.bench_function("parse_normalize_999", |b| {
        b.iter(|| parse_history_page("C0INCIDENT", &slack).unwrap().0.len());
    });
    g.finish();

    let dd = datadog_page(1000);
    let mut g = c.benchmark_group("datadog_logs_page");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("parse_normalize_1000", |b| {
        b.iter(|| parse_logs_page(&dd).unwrap().0.len());
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
