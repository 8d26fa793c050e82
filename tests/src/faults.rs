//! Fault injection around the real backends: each wrapper delegates to the real component and
//! fails (or duplicates) on demand, the way a crashed instance or an outage looks from the
//! caller's side.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bacca_bus::{Message, Publisher};
use bacca_knowledge::model::TenantId;
use bacca_knowledge::store::{
    Candidate, EdgeFilter, EdgeRow, GraphStore, NodeFilter, NodeRow, RowBatch, SimilarQuery, Stats,
};

/// Takes one failure from `remaining`; true when this call must fail.
fn take(remaining: &AtomicU32) -> bool {
    remaining
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// A publisher whose next `failures` publishes fail with a retryable backend error (the
/// process "crashed" after its previous step and before the publish), then delivers through
/// the real publisher.
pub struct FlakyPublisher {
    inner: Arc<dyn Publisher>,
    remaining: AtomicU32,
    failed: AtomicU64,
}

impl std::fmt::Debug for FlakyPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlakyPublisher")
            .field("failed", &self.failed())
            .finish_non_exhaustive()
    }
}

impl FlakyPublisher {
    /// Wraps `inner`, failing its next `failures` publishes.
    pub fn new(inner: Arc<dyn Publisher>, failures: u32) -> Self {
        Self {
            inner,
            remaining: AtomicU32::new(failures),
            failed: AtomicU64::new(0),
        }
    }

    /// Publishes that failed on purpose so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Publisher for FlakyPublisher {
    async fn publish(&self, topic: &str, msg: Message) -> bacca_bus::Result<String> {
        if take(&self.remaining) {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(bacca_bus::Error::Backend {
                class: "injected_crash",
                retryable: true,
            });
        }
        self.inner.publish(topic, msg).await
    }
}

/// A publisher that publishes every message twice (Pub/Sub's at-least-once delivery at its
/// worst: every pointer delivered twice).
pub struct DuplicatingPublisher {
    inner: Arc<dyn Publisher>,
}

impl std::fmt::Debug for DuplicatingPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuplicatingPublisher")
            .finish_non_exhaustive()
    }
}

impl DuplicatingPublisher {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Publisher>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl Publisher for DuplicatingPublisher {
    async fn publish(&self, topic: &str, msg: Message) -> bacca_bus::Result<String> {
        self.inner.publish(topic, msg.clone()).await?;
        self.inner.publish(topic, msg).await
    }
}

/// A graph store whose next `failures` upserts fail with a retryable database error (an outage
/// in the middle of a batch), then delegates to the real store.
#[derive(Debug)]
pub struct FlakyGraphStore {
    inner: Arc<dyn GraphStore>,
    remaining: AtomicU32,
    /// Upserts that reached the real store.
    upserts: AtomicU64,
    /// Upserts failed on purpose.
    failed: AtomicU64,
}

impl FlakyGraphStore {
    /// Wraps `inner`, failing its next `failures` upserts.
    pub fn new(inner: Arc<dyn GraphStore>, failures: u32) -> Self {
        Self {
            inner,
            remaining: AtomicU32::new(failures),
            upserts: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Makes the next `failures` upserts fail.
    pub fn fail_next(&self, failures: u32) {
        self.remaining.store(failures, Ordering::SeqCst);
    }

    /// Upserts that reached the real store.
    pub fn upserts(&self) -> u64 {
        self.upserts.load(Ordering::SeqCst)
    }

    /// Upserts failed on purpose so far.
    pub fn upserts_failed(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl GraphStore for FlakyGraphStore {
    async fn create_tenant(&self, tenant: &TenantId) -> bacca_knowledge::Result<()> {
        self.inner.create_tenant(tenant).await
    }

    async fn upsert(&self, tenant: &TenantId, batch: &RowBatch) -> bacca_knowledge::Result<()> {
        if take(&self.remaining) {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(bacca_knowledge::Error::Database {
                class: "injected_outage",
                code: None,
                retryable: true,
            });
        }
        self.upserts.fetch_add(1, Ordering::SeqCst);
        self.inner.upsert(tenant, batch).await
    }

    async fn nodes(
        &self,
        tenant: &TenantId,
        filter: &NodeFilter,
    ) -> bacca_knowledge::Result<Vec<NodeRow>> {
        self.inner.nodes(tenant, filter).await
    }

    async fn edges(
        &self,
        tenant: &TenantId,
        filter: &EdgeFilter,
    ) -> bacca_knowledge::Result<Vec<EdgeRow>> {
        self.inner.edges(tenant, filter).await
    }

    async fn nodes_since(
        &self,
        tenant: &TenantId,
        kind: bacca_knowledge::model::NodeKind,
        since: Option<bacca_knowledge::store::NodeCursor>,
    ) -> bacca_knowledge::Result<bacca_knowledge::store::NodesSince> {
        self.inner.nodes_since(tenant, kind, since).await
    }

    async fn stats(&self, tenant: &TenantId) -> bacca_knowledge::Result<Stats> {
        self.inner.stats(tenant).await
    }

    async fn similar(
        &self,
        tenant: &TenantId,
        query: &SimilarQuery,
    ) -> bacca_knowledge::Result<Vec<Candidate>> {
        self.inner.similar(tenant, query).await
    }

    async fn erase(
        &self,
        tenant: &TenantId,
        erasure: &bacca_knowledge::store::Erasure,
    ) -> bacca_knowledge::Result<bacca_knowledge::store::ErasureCounts> {
        self.inner.erase(tenant, erasure).await
    }

    async fn lock_writes(
        &self,
        tenant: &TenantId,
    ) -> bacca_knowledge::Result<bacca_knowledge::store::WriteLock> {
        self.inner.lock_writes(tenant).await
    }
}
