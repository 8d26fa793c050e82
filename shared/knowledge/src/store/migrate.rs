//! Embedded migrations (compiled into the binary, applied through `sqlx::migrate::Migrator`)
//! and the schema version check.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::{Error, Result};

/// Schema version this binary writes and expects (the last migration's version).
pub const SCHEMA_VERSION: i64 = 14;

/// (version, description, SQL) of every SQLite migration.
pub(crate) const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "graph",
        include_str!("../../migrations/sqlite/0001_graph.sql"),
    ),
    (
        2,
        "integer surrogate keys",
        include_str!("../../migrations/sqlite/0002_integer_keys.sql"),
    ),
    (
        3,
        "edge row locks (no change)",
        include_str!("../../migrations/sqlite/0003_edge_row_locks.sql"),
    ),
    (
        4,
        "tenant row lock (no change)",
        include_str!("../../migrations/sqlite/0004_tenant_row_lock.sql"),
    ),
    (
        5,
        "node ids as 16-byte blobs",
        include_str!("../../migrations/sqlite/0005_blob_ids.sql"),
    ),
    (
        6,
        "node updates in place (no change)",
        include_str!("../../migrations/sqlite/0006_node_updates_in_place.sql"),
    ),
    (
        7,
        "term arrays (no change)",
        include_str!("../../migrations/sqlite/0007_term_arrays.sql"),
    ),
    (
        8,
        "no node id index: an in-memory id directory, nids never reused",
        include_str!("../../migrations/sqlite/0008_id_directory.sql"),
    ),
    (
        9,
        "node cursors: the tenant's erasure and write counts",
        include_str!("../../migrations/sqlite/0009_node_cursors.sql"),
    ),
    (
        10,
        "term lists in node rows, no by-node term index",
        include_str!("../../migrations/sqlite/0010_node_term_lists.sql"),
    ),
    (
        11,
        "term lookups as bitmaps per block of 64 nodes",
        include_str!("../../migrations/sqlite/0011_term_bitmaps.sql"),
    ),
    (
        12,
        "PostgreSQL node ids as bytea (no change)",
        include_str!("../../migrations/sqlite/0012_postgres_bytea_ids.sql"),
    ),
    (
        13,
        "PostgreSQL policies read the tenant once per statement (no change)",
        include_str!("../../migrations/sqlite/0013_postgres_policy_init_plans.sql"),
    ),
    (
        14,
        "PostgreSQL term bitmaps instead of the GIN index (no change)",
        include_str!("../../migrations/sqlite/0014_postgres_term_bitmaps.sql"),
    ),
];

/// (version, description, SQL) of every PostgreSQL migration.
pub(crate) const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "graph with row-level security",
        include_str!("../../migrations/postgres/0001_graph.sql"),
    ),
    (
        2,
        "integer surrogate keys",
        include_str!("../../migrations/postgres/0002_integer_keys.sql"),
    ),
    (
        3,
        "edge row locks instead of foreign keys",
        include_str!("../../migrations/postgres/0003_edge_row_locks.sql"),
    ),
    (
        4,
        "tenant row lock instead of the nodes' foreign key",
        include_str!("../../migrations/postgres/0004_tenant_row_lock.sql"),
    ),
    (
        5,
        "SQLite node ids as blobs (no change)",
        include_str!("../../migrations/postgres/0005_sqlite_blob_ids.sql"),
    ),
    (
        6,
        "node updates in place: fillfactor, nodes_by_kind without last_seen",
        include_str!("../../migrations/postgres/0006_node_updates_in_place.sql"),
    ),
    (
        7,
        "term hashes as node arrays under GIN, term_postings counts",
        include_str!("../../migrations/postgres/0007_term_arrays.sql"),
    ),
    (
        8,
        "SQLite id directory (no change)",
        include_str!("../../migrations/postgres/0008_sqlite_id_directory.sql"),
    ),
    (
        9,
        "node cursors: tenants.erasures and writes, nodes_by_kind ending with nid",
        include_str!("../../migrations/postgres/0009_node_cursors.sql"),
    ),
    (
        10,
        "SQLite term lists in node rows (no change)",
        include_str!("../../migrations/postgres/0010_sqlite_node_term_lists.sql"),
    ),
    (
        11,
        "SQLite term bitmaps (no change)",
        include_str!("../../migrations/postgres/0011_sqlite_term_bitmaps.sql"),
    ),
    (
        12,
        "node ids as 16-byte bytea, unique on (id, tenant_id)",
        include_str!("../../migrations/postgres/0012_bytea_ids.sql"),
    ),
    (
        13,
        "row-level security policies read the tenant once per statement",
        include_str!("../../migrations/postgres/0013_policy_init_plans.sql"),
    ),
    (
        14,
        "term bitmaps per block of 64 nids instead of the GIN index over nodes.terms",
        include_str!("../../migrations/postgres/0014_term_bitmaps.sql"),
    ),
];

#[derive(Debug, Clone, Copy)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(v, d, sql)| {
                    Migration::new(
                        *v,
                        Cow::Borrowed(*d),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Builds the migrator for a set of embedded migrations.
pub(crate) async fn migrator(
    set: &'static [(i64, &'static str, &'static str)],
) -> Result<Migrator> {
    Migrator::new(Embedded(set))
        .await
        .map_err(|_| Error::Database {
            class: "migration source",
            code: None,
            retryable: false,
        })
}

/// Compares the applied version with the binary's; `None` means a fresh database.
pub(crate) fn check_version(found: Option<i64>, migrate: bool) -> Result<bool> {
    match found {
        None => Ok(true),
        Some(v) if v > SCHEMA_VERSION => Err(Error::SchemaTooNew {
            found: v,
            expected: SCHEMA_VERSION,
        }),
        Some(v) if v < SCHEMA_VERSION && !migrate => Err(Error::SchemaTooOld {
            found: v,
            expected: SCHEMA_VERSION,
        }),
        Some(v) => Ok(v < SCHEMA_VERSION),
    }
}

/// Maps a migrator error to the crate's errors (no SQL or content in the message).
pub(crate) fn migrate_error(e: sqlx::migrate::MigrateError) -> Error {
    use sqlx::migrate::MigrateError as M;
    match e {
        M::VersionMissing(v) => Error::SchemaTooNew {
            found: v,
            expected: SCHEMA_VERSION,
        },
        M::Execute(inner) | M::ExecuteMigration(inner, _) => inner.into(),
        _ => Error::Database {
            class: "migration failed (modified or dirty migration?)",
            code: None,
            retryable: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_rules() {
        assert!(check_version(None, false).unwrap());
        assert!(!check_version(Some(SCHEMA_VERSION), false).unwrap());
        assert!(matches!(
            check_version(Some(SCHEMA_VERSION + 1), true),
            Err(Error::SchemaTooNew { .. })
        ));
        assert!(matches!(
            check_version(Some(0), false),
            Err(Error::SchemaTooOld { .. })
        ));
        assert!(check_version(Some(0), true).unwrap());
    }
}
