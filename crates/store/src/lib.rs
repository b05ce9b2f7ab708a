//! sagestack-store: durable state behind one [`Store`] trait.
//!
//! Architecture invariants:
//! * services see only the [`Store`] trait; SQL lives in the backends ([`sqlite`],
//!   [`postgres`]) and their versioned migrations (`migrations/<backend>/NNNN_*.sql`);
//! * every backend passes the same test suite (`tests/backends.rs`);
//! * a method returns only after its effect is durable (committed), so whatever a
//!   client saw acknowledged survives a restart or a `kill -9`.
//!
//! The store knows nothing of SageMaker's rules: a project is an opaque JSON document
//! plus the columns that are indexed (name, id, ARN, creation time). The same holds for
//! SSM parameters ([`parameters`]), model package groups ([`model_package_groups`]), IAM
//! roles ([`roles`]) and the stack engine's records ([`stacks`]).

mod batch;
mod changes;
mod checkpoint;
mod durable;
mod health;
mod keyset;
pub mod leases;
mod migrate;
pub mod model_package_groups;
pub mod objects;
pub mod parameters;
pub mod postgres;
pub mod project_history;
pub mod roles;
pub mod servicecatalog;
pub mod sqlite;
mod stack_cache;
pub mod stacks;
pub mod transient;

use std::sync::Arc;

use async_trait::async_trait;

pub use changes::CatalogChange;
pub use leases::{Lease, LeaseStore, Leaseholder};
pub use model_package_groups::{ModelPackageGroupRecord, ModelPackageGroupStore};
pub use objects::{
    BucketRecord, KeyRange, ObjectMeta, ObjectPage, ObjectRecord, ObjectStore, PartRecord,
    UploadRecord,
};
pub use parameters::{ParameterRecord, ParameterStore};
pub use postgres::PostgresStore;
pub use project_history::{ProjectHistoryStore, StatusChange, StatusEntry};
pub use roles::{RoleRecord, RoleStore};
/// The stack engine's persistence contract, implemented by both backends (see [`stacks`]).
pub use sagestack_engine::store::StackStore;
pub use servicecatalog::{
    CatalogCursor, CatalogKind, CatalogRecord, Modified, ServiceCatalogStore, catalog_all,
    catalog_modify,
};
pub use sqlite::{Durability, SqliteStore};

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRecord {
    /// Unique; the primary key.
    pub name: String,
    /// Unique.
    pub id: String,
    /// Unique; tags are keyed by it.
    pub arn: String,
    /// Creation time in microseconds since the epoch (exact, so it can be a sort key).
    pub creation_micros: i64,
    /// Optimistic-concurrency counter: 1 when created, +1 on every update.
    pub version: i64,
    /// The project as a serialized JSON object (opaque to the store).
    pub document: Arc<str>,
}

/// A conditional project update: replace the project named `project.name` if its stored
/// version is `expected_version` (else [`StoreError::Conflict`]; [`StoreError::NotFound`]
/// if absent), and add or overwrite `tags`, refusing more than `max_tags` in total.
/// `project.version` must be `expected_version + 1`. A `status_change` is recorded in the
/// project's history ([`project_history`]) in the same transaction.
#[derive(Debug, Clone, Copy)]
pub struct ProjectUpdate<'a> {
    pub project: &'a ProjectRecord,
    pub expected_version: i64,
    pub tags: &'a [Tag],
    pub max_tags: usize,
    pub status_change: Option<&'a StatusChange>,
}

/// A tag on a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// The order of [`Store::list_projects`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectSort {
    /// By name (unique).
    Name,
    /// By creation time, ties broken by name.
    CreationTime,
}

/// Where the previous page ended (keyset pagination): the sort key of its last item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectCursor {
    pub creation_micros: i64,
    pub name: String,
}

/// A page request for [`Store::list_projects`].
#[derive(Debug, Clone)]
pub struct ProjectQuery {
    pub sort: ProjectSort,
    pub descending: bool,
    /// Only items strictly after this key in the requested order.
    pub after: Option<ProjectCursor>,
    /// Only projects created strictly after this time (microseconds).
    pub created_after: Option<i64>,
    /// Only projects created strictly before this time (microseconds).
    pub created_before: Option<i64>,
    /// Only projects whose name contains this, ignoring ASCII case.
    pub name_contains: Option<String>,
    /// At most this many items.
    pub limit: usize,
}

impl ProjectQuery {
    pub fn new(sort: ProjectSort, descending: bool, limit: usize) -> Self {
        ProjectQuery {
            sort,
            descending,
            after: None,
            created_after: None,
            created_before: None,
            name_contains: None,
            limit,
        }
    }
}

/// Storage failures and conflicts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The named project or tagged resource is not stored.
    #[error("not found")]
    NotFound,
    /// A project with this name (or id or ARN) is already stored.
    #[error("already exists")]
    AlreadyExists,
    /// The project changed since it was read (version mismatch).
    #[error("concurrent modification")]
    Conflict,
    /// Storing the tags would leave the resource with more than `limit` tags.
    #[error("a resource can have at most {limit} tags")]
    TooManyTags { limit: usize },
    /// The data directory is in use by another process.
    #[error("{0}")]
    Locked(String),
    /// The storage is out of room (SQLite's "database or disk is full"): writes are
    /// refused until space returns (see [`Store::health`]).
    #[error("storage full: {0}")]
    Full(String),
    /// The database cannot be reached now (PostgreSQL down, or no connection within
    /// the pool's wait): the call changed nothing it did not commit, and may be retried
    /// once the database is back (see [`transient`]). The text starts with
    /// [`transient::UNREACHABLE`], which the protocol layer answers as `503
    /// ServiceUnavailable`.
    #[error("{}: {}", transient::UNREACHABLE, .0)]
    Unavailable(String),
    /// The database failed.
    #[error("storage backend: {0}")]
    Backend(String),
}

/// Whether the store takes writes ([`Store::health`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreHealth {
    Ok,
    /// Writes are refused, for this reason (e.g. the disk is full); the store probes
    /// and returns to [`StoreHealth::Ok`] by itself once they can land again.
    Degraded(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::AlreadyExists;
        }
        if batch::is_full(&e) {
            return StoreError::Full(e.to_string());
        }
        if transient::unreachable(&e) {
            return StoreError::Unavailable(e.to_string());
        }
        StoreError::Backend(e.to_string())
    }
}

/// Durable state of the SageMaker project service (the methods below) and, through the
/// supertraits, of the other services: SSM parameters, model package groups, IAM roles
/// and the stack engine's records. Each method is atomic. An `Arc<dyn Store>` coerces to
/// any supertrait object (e.g. `Arc<dyn StackStore>` for the CloudFormation service).
#[async_trait]
pub trait Store:
    ParameterStore
    + ModelPackageGroupStore
    + RoleStore
    + ServiceCatalogStore
    + StackStore
    + ObjectStore
    + LeaseStore
    + ProjectHistoryStore
    + Send
    + Sync
    + 'static
{
    /// Stores a new project with its initial tags.
    /// [`StoreError::AlreadyExists`] if the name, id or ARN is taken.
    async fn create_project(&self, project: &ProjectRecord, tags: &[Tag])
    -> Result<(), StoreError>;

    async fn get_project(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError>;

    /// Applies `update` (see [`ProjectUpdate`]).
    async fn update_project(&self, update: ProjectUpdate<'_>) -> Result<(), StoreError>;

    /// Deletes the project and its tags; returns what was deleted.
    async fn delete_project(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError>;

    /// Deletes the project named `expected.name` and its tags only while it is still the
    /// record `expected` was read as (same id and version): the database decides, so a
    /// purge racing a re-creation on another replica never removes the new project.
    /// `false` when the stored project changed, was replaced or is gone.
    async fn delete_project_if(&self, expected: &ProjectRecord) -> Result<bool, StoreError>;

    /// Replaces the stored project `expected` (matched by name, id and version, as in
    /// [`Store::delete_project_if`]) by `project`, of the same name, with its initial `tags`,
    /// in one transaction: of two replicas re-creating a `DeleteCompleted` name, exactly one
    /// wins. [`StoreError::Conflict`] when the stored project is another or has changed,
    /// [`StoreError::NotFound`] when none is stored.
    async fn replace_project(
        &self,
        expected: &ProjectRecord,
        project: &ProjectRecord,
        tags: &[Tag],
    ) -> Result<(), StoreError>;

    /// Every project whose document's `ProjectStatus` is one of `statuses`, by name (an
    /// index, not a read of every project: what takeover and recovery look for).
    async fn projects_with_status(
        &self,
        statuses: &[&str],
    ) -> Result<Vec<ProjectRecord>, StoreError>;

    /// One page of projects, in the query's order, starting after its cursor.
    async fn list_projects(&self, query: &ProjectQuery) -> Result<Vec<ProjectRecord>, StoreError>;

    /// Adds or overwrites tags of the project whose ARN is `resource_arn`.
    /// [`StoreError::NotFound`] if there is none; [`StoreError::TooManyTags`] if the
    /// resource would end up with more than `max_tags`.
    async fn add_tags(
        &self,
        resource_arn: &str,
        tags: &[Tag],
        max_tags: usize,
    ) -> Result<(), StoreError>;

    /// Up to `limit` tags ordered by key, with keys strictly after `after_key`.
    /// `None` if no project has this ARN.
    async fn list_tags(
        &self,
        resource_arn: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<Tag>>, StoreError>;

    /// Removes the tags with these keys (absent keys are ignored).
    /// [`StoreError::NotFound`] if no project has this ARN.
    async fn delete_tags(&self, resource_arn: &str, keys: &[String]) -> Result<(), StoreError>;

    /// Whether writes are taken now. A backend with no failed state of its own (every
    /// write fails or succeeds alone, as on PostgreSQL) is always [`StoreHealth::Ok`].
    /// On SQLite this probes first when writes were failing, and so is how the store
    /// leaves its failed state when nothing else writes.
    async fn health(&self) -> StoreHealth {
        StoreHealth::Ok
    }

    /// Empties every table (projects, stacks, S3, SSM, IAM, Service Catalog and the
    /// other documents, leases...) and whatever the backend keeps in memory of them, in
    /// place: what `POST /_sagestack/reset` runs between tests. The caller makes sure
    /// no operation runs. A backend shared by several processes cannot empty their
    /// memory, so it refuses (PostgreSQL: [`StoreError::Backend`]).
    async fn reset(&self) -> Result<(), StoreError> {
        Err(StoreError::Backend(
            "this store cannot be reset in place (it may be shared by other processes)".into(),
        ))
    }

    /// Flushes and closes the backend; later calls fail.
    async fn close(&self);
}

/// Opens the store a URL names: `sqlite://<dir>`-style directories are not URLs, so
/// callers pass either a Postgres URL or `None` for the embedded backend in `data_dir`.
pub async fn open(
    database_url: Option<&str>,
    data_dir: &std::path::Path,
) -> Result<Arc<dyn Store>, StoreError> {
    match database_url {
        Some(url) => Ok(Arc::new(PostgresStore::connect(url, None).await?)),
        None => Ok(Arc::new(SqliteStore::open(data_dir).await?)),
    }
}
