//! The retention sweep: delete raw objects whose Custom-Time is past the cutoff.
//!
//! Cutoff = `now - (retention_days - safety_margin_hours)`; an object is expired when its
//! Custom-Time is at or before the cutoff. Run hourly, an object lives at most 29 d 23 h with
//! the defaults.
//!
//! Cost grows with the expired objects, not with all objects: the sweep lists `raw/` with a
//! delimiter to find the sources, each source with a delimiter to find its date prefixes, and
//! lists objects only under date prefixes on or before the cutoff's date (the raw layout puts
//! an object under the UTC date of its Custom-Time, see [`crate::raw`]). Objects under later
//! dates cannot be expired and are never listed. Objects placed outside the layout are left to
//! the bucket's lifecycle rule (`daysSinceCustomTime`), the backstop.
//!
//! Deletes carry the listed generation as a precondition, so an object rewritten in between is
//! never deleted blindly. An object already gone counts as `already_gone`, not as a failure,
//! so a second run is a no-op. Objects without Custom-Time are reported, never deleted.
//! Failures (a delete, or the listing of one date prefix) are counted and named in the
//! report and the sweep goes on; they are retried by the next hourly run.

use std::time::Instant;

use bacca_audit::{AuditEvent, AuditSink};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::config::RetentionPolicy;
use crate::error::{Error, Result};
use crate::raw::{validate_tenant, RAW_PREFIX};
use crate::store::{ObjectMeta, ObjectStore};

/// Deletes in flight at once.
const DELETE_CONCURRENCY: usize = 16;

/// What the sweep is doing, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepPhase {
    /// Listing sources and date prefixes.
    Discovering,
    /// Listing and deleting objects under expired date prefixes.
    Sweeping,
    /// Finished.
    Done,
}

/// Progress reported while sweeping; `prefixes_total` is known after discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepProgress {
    /// Current phase.
    pub phase: SweepPhase,
    /// Date prefixes that can hold expired objects.
    pub prefixes_total: u64,
    /// Of those, how many are done.
    pub prefixes_done: u64,
    /// Objects examined so far.
    pub scanned: u64,
    /// Objects deleted so far.
    pub deleted: u64,
    /// Failures so far.
    pub failed: u64,
}

/// One failure, named so an operator can find it; never content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepFailure {
    /// Object name or date prefix.
    pub name: String,
    /// Error class ([`Error::class`]).
    pub class: String,
    /// Whether the next run may succeed.
    pub retryable: bool,
}

/// The result of one sweep run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Tenant swept.
    pub tenant: String,
    /// Store URI swept.
    pub store: String,
    /// The injected clock.
    pub now: DateTime<Utc>,
    /// Objects with Custom-Time at or before this are expired.
    pub cutoff: DateTime<Utc>,
    /// Nothing was deleted when true; `expired` says what would have been.
    pub dry_run: bool,
    /// Objects listed and examined (only under date prefixes that can hold expired objects).
    pub scanned: u64,
    /// Objects found expired.
    pub expired: u64,
    /// Objects deleted by this run.
    pub deleted: u64,
    /// Expired objects that were already gone when deleted (another sweep, lifecycle).
    pub already_gone: u64,
    /// Failed deletes and listings, retried by the next run.
    pub failed: u64,
    /// The failures.
    pub failures: Vec<SweepFailure>,
    /// How many objects have no Custom-Time.
    pub missing_custom_time: u64,
    /// Their names (they are not deleted; the layout requires Custom-Time).
    pub missing_custom_time_names: Vec<String>,
    /// Date prefixes that could hold expired objects and were listed.
    pub prefixes_swept: u64,
    /// Date prefixes skipped because they cannot hold expired objects (not listed).
    pub prefixes_skipped: u64,
    /// Prefixes under a source that are not `YYYY-MM-DD/` (left alone, for the backstop).
    pub unrecognized_prefixes: Vec<String>,
    /// List calls made (the sweep's cost).
    pub list_calls: u64,
    /// The oldest Custom-Time that survives this run: exact when the survivor lies under a
    /// swept date prefix, otherwise midnight UTC of the oldest skipped date (a lower bound).
    pub oldest_surviving_custom_time: Option<DateTime<Utc>>,
    /// Wall-clock duration.
    pub duration_ms: u64,
}

/// Sweeps `tenant`'s raw objects in `store` at the injected time `now`.
///
/// Emits one `sweep` audit event (tenant, counts, oldest surviving Custom-Time, duration,
/// dry run) and calls `progress` as it goes.
///
/// # Errors
/// [`Error::InvalidTenant`], [`Error::InvalidConfig`]; errors listing `raw/` (bucket missing, unavailable): then
/// nothing was deleted and the run should be retried. Failures listing one source or one
/// date prefix, and per-object failures, are not errors: they are in the report.
pub async fn sweep(
    store: &dyn ObjectStore,
    tenant: &str,
    policy: RetentionPolicy,
    now: DateTime<Utc>,
    dry_run: bool,
    audit: &AuditSink,
    progress: &(dyn Fn(SweepProgress) + Send + Sync),
) -> Result<SweepReport> {
    validate_tenant(tenant)?;
    policy.validate()?;
    let started = Instant::now();
    let cutoff = policy.cutoff(now);
    let cutoff_date = cutoff.date_naive();
    let mut r = SweepReport {
        tenant: tenant.to_owned(),
        store: store.uri(),
        now,
        cutoff,
        dry_run,
        scanned: 0,
        expired: 0,
        deleted: 0,
        already_gone: 0,
        failed: 0,
        failures: Vec::new(),
        missing_custom_time: 0,
        missing_custom_time_names: Vec::new(),
        prefixes_swept: 0,
        prefixes_skipped: 0,
        unrecognized_prefixes: Vec::new(),
        list_calls: 0,
        oldest_surviving_custom_time: None,
        duration_ms: 0,
    };
    let snapshot = |r: &SweepReport, phase, total: usize, done: usize| SweepProgress {
        phase,
        prefixes_total: total as u64,
        prefixes_done: done as u64,
        scanned: r.scanned,
        deleted: r.deleted,
        failed: r.failed,
    };
    progress(snapshot(&r, SweepPhase::Discovering, 0, 0));

    // Discovery: sources, then their date prefixes; only dates <= cutoff date are kept.
    let sources = store.list(RAW_PREFIX, Some("/")).await?;
    r.list_calls += 1;
    let mut expired_prefixes: Vec<String> = Vec::new();
    let mut oldest_skipped: Option<NaiveDate> = None;
    for source in &sources.prefixes {
        r.list_calls += 1;
        let dates = match store.list(source, Some("/")).await {
            Ok(d) => d,
            Err(e) => {
                // One source failing must not stop the others; retried next run.
                r.failed += 1;
                r.failures.push(failure(source, &e));
                continue;
            }
        };
        for p in dates.prefixes {
            let date = p
                .strip_prefix(source.as_str())
                .and_then(|d| d.strip_suffix('/'))
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            match date {
                Some(d) if d <= cutoff_date => expired_prefixes.push(p),
                Some(d) => {
                    r.prefixes_skipped += 1;
                    oldest_skipped = Some(oldest_skipped.map_or(d, |o| o.min(d)));
                }
                None => r.unrecognized_prefixes.push(p),
            }
        }
    }
    let total = expired_prefixes.len();
    progress(snapshot(&r, SweepPhase::Sweeping, total, 0));

    let mut oldest: Option<DateTime<Utc>> = None;
    let mut survive = |t: DateTime<Utc>| oldest = Some(oldest.map_or(t, |o| o.min(t)));
    for (done, prefix) in expired_prefixes.iter().enumerate() {
        let listing = match store.list(prefix, None).await {
            Ok(l) => l,
            Err(e) => {
                r.list_calls += 1;
                r.failed += 1;
                r.failures.push(failure(prefix, &e));
                continue;
            }
        };
        r.list_calls += 1;
        r.prefixes_swept += 1;
        let mut to_delete: Vec<ObjectMeta> = Vec::new();
        for obj in listing.objects {
            r.scanned += 1;
            match obj.custom_time {
                None => {
                    r.missing_custom_time += 1;
                    r.missing_custom_time_names.push(obj.name);
                }
                Some(t) if t <= cutoff => {
                    r.expired += 1;
                    if !dry_run {
                        to_delete.push(obj);
                    }
                }
                Some(t) => survive(t),
            }
        }
        let results: Vec<(ObjectMeta, Result<()>)> = stream::iter(to_delete)
            .map(|obj| async move {
                let res = store.delete(&obj.name, Some(obj.generation)).await;
                (obj, res)
            })
            .buffer_unordered(DELETE_CONCURRENCY)
            .collect()
            .await;
        for (obj, res) in results {
            match res {
                Ok(()) => r.deleted += 1,
                Err(Error::NotFound { .. }) => r.already_gone += 1,
                Err(e) => {
                    tracing::warn!(tenant, object = %obj.name, class = e.class(), "sweep delete failed; retried next run");
                    r.failed += 1;
                    r.failures.push(failure(&obj.name, &e));
                    if let Some(t) = obj.custom_time {
                        survive(t);
                    }
                }
            }
        }
        progress(snapshot(&r, SweepPhase::Sweeping, total, done + 1));
    }
    r.failures.sort_by(|a, b| a.name.cmp(&b.name));
    r.missing_custom_time_names.sort();
    let skipped_floor = oldest_skipped.map(|d| d.and_time(NaiveTime::MIN).and_utc());
    r.oldest_surviving_custom_time = match (oldest, skipped_floor) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    r.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    progress(snapshot(&r, SweepPhase::Done, total, total));

    let mut ev = AuditEvent::new("sweep", tenant)
        .at(now)
        .field("store", r.store.as_str())
        .field("deleted", r.deleted)
        .field("expired", r.expired)
        .field("already_gone", r.already_gone)
        .field("failed", r.failed)
        .field("missing_custom_time", r.missing_custom_time)
        .field("scanned", r.scanned)
        .field("list_calls", r.list_calls)
        .field("duration_ms", r.duration_ms)
        .field("dry_run", dry_run)
        .field("cutoff", r.cutoff.to_rfc3339());
    if let Some(t) = r.oldest_surviving_custom_time {
        ev = ev.field("oldest_surviving_custom_time", t.to_rfc3339());
    }
    audit.emit(ev);
    tracing::info!(
        tenant,
        deleted = r.deleted,
        failed = r.failed,
        scanned = r.scanned,
        dry_run,
        "retention sweep finished"
    );
    Ok(r)
}

/// A failure naming `name` and the class of `e` (never content).
pub(crate) fn failure(name: &str, e: &Error) -> SweepFailure {
    SweepFailure {
        name: name.to_owned(),
        class: e.class().to_owned(),
        retryable: e.is_retryable(),
    }
}
