//! A minimal versioned-migration runner shared by the backends.
//!
//! Migrations are SQL files embedded at compile time, applied in version order, each
//! in its own transaction together with its row in `sagestack_migrations`. A database
//! that has a version this binary does not know is refused (it was migrated by a
//! newer sagestack).

/// One embedded migration.
pub(crate) struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

/// The migrations of one backend (`migrations/{backend}/`): one list of versions,
/// descriptions and files for both backends, which must stay in step. The second arm
/// turns that table into the backend's `&[Migration]`, each file embedded.
macro_rules! migrations {
    ($backend:literal) => {
        migrations!($backend;
            1, "projects", "0001_projects.sql";
            2, "stacks", "0002_stacks.sql";
            3, "ssm parameters, model package groups, iam roles", "0003_services.sql";
            4, "s3 buckets, objects, multipart uploads", "0004_objects.sql";
            5, "service catalog", "0005_servicecatalog.sql";
            6, "stack names beside stack documents (indexed by-name lookups)", "0006_stack_names.sql";
            7, "the document table as a rowid table (SQLite)", "0007_documents_rowid.sql";
            8, "leases on work (which process drives what, until when)", "0008_leases.sql";
            9, "the status history of projects", "0009_project_history.sql";
            10, "projects by status", "0010_projects_by_status.sql";
        )
    };
    ($backend:literal; $($version:literal, $description:literal, $file:literal;)+) => {
        &[$(
            Migration {
                version: $version,
                description: $description,
                sql: include_str!(concat!("../migrations/", $backend, "/", $file)),
            },
        )+]
    };
}

pub(crate) const SQLITE: &[Migration] = migrations!("sqlite");

pub(crate) const POSTGRES: &[Migration] = migrations!("postgres");

pub(crate) const TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS sagestack_migrations (
    version BIGINT NOT NULL PRIMARY KEY,
    description TEXT NOT NULL
)";

/// Checks that `applied` contains no version unknown to `known`.
pub(crate) fn check_known(applied: &[i64], known: &[Migration]) -> Result<(), crate::StoreError> {
    let newest = known.iter().map(|m| m.version).max().unwrap_or(0);
    match applied.iter().find(|v| **v > newest) {
        Some(v) => Err(crate::StoreError::Backend(format!(
            "database has migration {v}, newer than this binary knows ({newest})"
        ))),
        None => Ok(()),
    }
}
