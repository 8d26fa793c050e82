//! Tenant write locks: a session advisory lock per tenant, held on its own pooled
//! connection so that a cancelled or failed holder can never leave it on a pooled session.

use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use crate::model::TenantId;
use crate::store::decode_err;
use crate::{Error, Result};

/// Domain prefix of the advisory-lock key of a tenant's graph writes.
const WRITE_LOCK_DOMAIN: &[u8] = b"bacca-kg-writes\0";

/// The advisory-lock key of a tenant's graph writes: the first 8 bytes of
/// SHA-256(`"bacca-kg-writes\0"` + tenant id), big-endian.
#[must_use]
pub fn write_lock_key(tenant: &TenantId) -> i64 {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(WRITE_LOCK_DOMAIN);
    ctx.update(tenant.as_str().as_bytes());
    let digest = ctx.finish();
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest.as_ref()[..8]);
    i64::from_be_bytes(key)
}

/// A session advisory lock held on its own pooled connection. Released by
/// [`Self::unlock`] (`pg_advisory_unlock`, then the connection goes back to its pool); when
/// dropped while held or while still waiting (a cancelled future), the connection is detached
/// from its pool and closed, and the server releases the lock when it sees the session end.
#[derive(Debug)]
pub(crate) struct AdvisoryLock {
    conn: Option<PoolConnection<Postgres>>,
    key: i64,
}

impl AdvisoryLock {
    /// Waits for the lock `key` on `conn`. If this future is dropped before it completes, the
    /// connection is closed (the pending lock can never be left on a pooled connection).
    pub(super) async fn acquire(conn: PoolConnection<Postgres>, key: i64) -> Result<Self> {
        let mut lock = Self {
            conn: Some(conn),
            key,
        };
        if let Some(conn) = lock.conn.as_mut() {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(key)
                .execute(&mut **conn)
                .await?;
        }
        Ok(lock)
    }

    /// Releases the lock; on failure the connection is closed, which releases it as well.
    pub(crate) async fn unlock(mut self) -> Result<()> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        let released: Result<bool> = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::from);
        match released {
            Ok(true) => Ok(()),
            Ok(false) => {
                drop(conn.detach());
                Err(decode_err("write lock was not held"))
            }
            Err(e) => {
                drop(conn.detach());
                Err(e)
            }
        }
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Never back to the pool: closing the session releases its advisory locks.
            drop(conn.detach());
        }
    }
}
