//! The application role the PostgreSQL tests and benches run the store as: neither superuser
//! nor `BYPASSRLS`, as in production, so that row-level security applies to every row (a
//! superuser bypasses it). Shared by `tests/store_suite.rs` (through `support`), the plan tests
//! in `src/store/postgres/tests.rs` and the benches' workload (both by `#[path]`).

use sqlx::PgPool;

/// The role's name; created when missing, never dropped (its grants go with each schema).
pub const APP_ROLE: &str = "bacca_kg_app";

/// Creates [`APP_ROLE`] when missing and grants it what the store needs on every table of the
/// migrated `schema` (the grants of the PostgreSQL module's documentation), as `admin`.
///
/// # Errors
///
/// A failed grant (a concurrent creation of the role is not an error).
pub async fn grant_app_role(admin: &PgPool, schema: &str) -> Result<(), sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(APP_ROLE)
            .fetch_one(admin)
            .await?;
    if !exists {
        // Another test may create it concurrently: a duplicate is fine.
        let _ = sqlx::query(&format!(
            "CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"
        ))
        .execute(admin)
        .await;
    }
    for grant in [
        format!("GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}"),
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {APP_ROLE}"
        ),
    ] {
        sqlx::query(&grant).execute(admin).await?;
    }
    Ok(())
}
