//! IAM roles on both SQL backends (table of migration 0003). Role names are unique
//! ignoring case, as in IAM: the primary key is the lowercased name.
//!
//! A role's document changes by compare-and-swap ([`RoleStore::replace_role_if`],
//! [`RoleStore::delete_role_if`]): the write names the document it was computed from and
//! lands only if that is still the stored one, so two writers of one role (two requests,
//! or two replicas on PostgreSQL) never lose each other's change; the loser reads again.

use std::sync::Arc;

use crate::parameters::RowExt;
use crate::{PostgresStore, SqliteStore, StoreError};
use async_trait::async_trait;

/// A stored IAM role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    /// Unique ignoring case.
    pub name: String,
    /// Unique (`AROA...`).
    pub role_id: String,
    pub arn: String,
    /// Creation time in microseconds since the epoch.
    pub creation_micros: i64,
    /// The role as a serialized JSON object (opaque to the store).
    pub document: Arc<str>,
}

/// Durable state of IAM roles. Each method is atomic.
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// [`StoreError::AlreadyExists`] if a role has this name (ignoring case) or id.
    async fn create_role(&self, role: &RoleRecord) -> Result<(), StoreError>;
    /// The role named `name`, ignoring case.
    async fn get_role(&self, name: &str) -> Result<Option<RoleRecord>, StoreError>;
    /// Replaces the role's document; [`StoreError::NotFound`] if there is no such role.
    async fn replace_role(&self, role: &RoleRecord) -> Result<(), StoreError>;
    /// Deletes the role named `name` (ignoring case); false when there was none.
    async fn delete_role(&self, name: &str) -> Result<bool, StoreError>;
    /// Replaces the role's document (and ARN) only if the stored document is still
    /// `expected`: true when replaced, false when it has changed since;
    /// [`StoreError::NotFound`] if there is no such role.
    async fn replace_role_if(&self, role: &RoleRecord, expected: &str) -> Result<bool, StoreError>;
    /// Deletes the role named `name` (ignoring case) only if its document is still
    /// `expected`: true when deleted, false when it has changed since;
    /// [`StoreError::NotFound`] if there is no such role.
    async fn delete_role_if(&self, name: &str, expected: &str) -> Result<bool, StoreError>;
    /// Roles ordered by lowercased name (bytewise), those whose lowercased name is
    /// strictly after `after`, at most `limit`.
    async fn list_roles(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RoleRecord>, StoreError>;
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn role_record(row: &impl RowExt) -> Result<RoleRecord, StoreError> {
    Ok(RoleRecord {
        name: row.text(0)?,
        role_id: row.text(1)?,
        arn: row.text(2)?,
        creation_micros: row.int(3)?,
        document: Arc::from(row.text(4)?),
    })
}

/// `$collate` makes text order bytewise (PostgreSQL's default collation does not).
macro_rules! role_store_impl {
    ($store:ty, $collate:literal) => {
        #[async_trait]
        impl RoleStore for $store {
            async fn create_role(&self, r: &RoleRecord) -> Result<(), StoreError> {
                self.create_role_backend(r).await
            }

            async fn get_role(&self, name: &str) -> Result<Option<RoleRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT name, role_id, arn, creation_micros, document FROM iam_roles
                     WHERE name_key = $1",
                )
                .bind(key(name))
                .fetch_optional(self.reader().await?)
                .await?;
                row.as_ref().map(role_record).transpose()
            }

            async fn list_roles(
                &self,
                after: Option<&str>,
                limit: usize,
            ) -> Result<Vec<RoleRecord>, StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT name, role_id, arn, creation_micros, document FROM iam_roles
                     WHERE ($1 IS NULL OR name_key",
                    $collate,
                    " > $1) ORDER BY name_key",
                    $collate,
                    " LIMIT $2"
                ))
                .bind(after.map(key))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(self.reader().await?)
                .await?;
                rows.iter().map(role_record).collect()
            }

            async fn replace_role_if(
                &self,
                r: &RoleRecord,
                expected: &str,
            ) -> Result<bool, StoreError> {
                let n = sqlx::query(
                    "UPDATE iam_roles SET arn = $1, document = $2
                     WHERE name_key = $3 AND document = $4",
                )
                .bind(&r.arn)
                .bind(&*r.document)
                .bind(key(&r.name))
                .bind(expected)
                .execute(self.writer().await?)
                .await?
                .rows_affected();
                if n == 0 {
                    return match self.get_role(&r.name).await? {
                        Some(_) => Ok(false),
                        None => Err(StoreError::NotFound),
                    };
                }
                self.durable().await?;
                Ok(true)
            }

            async fn delete_role_if(&self, name: &str, expected: &str) -> Result<bool, StoreError> {
                self.delete_role_if_backend(name, expected).await
            }

            async fn replace_role(&self, r: &RoleRecord) -> Result<(), StoreError> {
                let n =
                    sqlx::query("UPDATE iam_roles SET arn = $1, document = $2 WHERE name_key = $3")
                        .bind(&r.arn)
                        .bind(&*r.document)
                        .bind(key(&r.name))
                        .execute(self.writer().await?)
                        .await?
                        .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                self.durable().await
            }

            async fn delete_role(&self, name: &str) -> Result<bool, StoreError> {
                self.delete_role_backend(name).await
            }
        }
    };
}

role_store_impl!(SqliteStore, "");
role_store_impl!(PostgresStore, " COLLATE \"C\"");

fn insert_role(r: &RoleRecord) -> (&'static str, Vec<crate::batch::Value>) {
    use crate::batch::Value as V;
    (
        "INSERT INTO iam_roles (name_key, name, role_id, arn, creation_micros, document)
         VALUES ({}, {}, {}, {}, {}, {})",
        vec![
            V::Text(key(&r.name)),
            V::Text(r.name.clone()),
            V::Text(r.role_id.clone()),
            V::Text(r.arn.clone()),
            V::Int(r.creation_micros),
            V::Text(r.document.to_string()),
        ],
    )
}

impl PostgresStore {
    async fn create_role_backend(&self, r: &RoleRecord) -> Result<(), StoreError> {
        let (statement, values) = insert_role(r);
        self.write_one(statement, values).await?;
        self.durable().await
    }

    async fn delete_role_backend(&self, name: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM iam_roles WHERE name_key = $1")
            .bind(key(name))
            .execute(self.writer().await?)
            .await?
            .rows_affected();
        self.durable().await?;
        Ok(n > 0)
    }

    async fn delete_role_if_backend(&self, name: &str, expected: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM iam_roles WHERE name_key = $1 AND document = $2")
            .bind(key(name))
            .bind(expected)
            .execute(self.writer().await?)
            .await?
            .rows_affected();
        if n == 0 {
            return match self.get_role(name).await? {
                Some(_) => Ok(false),
                None => Err(StoreError::NotFound),
            };
        }
        self.durable().await?;
        Ok(true)
    }
}

impl SqliteStore {
    /// Under the name's lock, checked against the names in memory
    /// ([`crate::sqlite::Names`]), so that inside a stack operation it is queued behind
    /// with the operation's steps.
    async fn create_role_backend(&self, r: &RoleRecord) -> Result<(), StoreError> {
        let name_key = key(&r.name);
        let _w = self.name_lock(&format!("iam:{name_key}")).await;
        if self.names().roles.contains(&name_key) {
            return Err(StoreError::AlreadyExists);
        }
        let (statement, values) = insert_role(r);
        self.submit(crate::batch::Write::one(statement, values))
            .await?;
        self.names().roles.insert(name_key);
        drop(_w);
        self.durable().await
    }

    /// Under the name's lock, checked against the names in memory, then the delete
    /// through the write combiner (queued behind inside a stack operation).
    async fn delete_role_backend(&self, name: &str) -> Result<bool, StoreError> {
        let name_key = key(name);
        let _w = self.name_lock(&format!("iam:{name_key}")).await;
        if !self.names().roles.contains(&name_key) {
            return Ok(false);
        }
        self.submit(crate::batch::Write::one(
            "DELETE FROM iam_roles WHERE name_key = {}",
            vec![crate::batch::Value::Text(name_key.clone())],
        ))
        .await?;
        self.names().roles.remove(&name_key);
        drop(_w);
        self.durable().await?;
        Ok(true)
    }

    /// Under the name's lock (so it is ordered with creates and deletes of the name),
    /// on the writer connection, whose answer says whether the document still matched.
    async fn delete_role_if_backend(&self, name: &str, expected: &str) -> Result<bool, StoreError> {
        let name_key = key(name);
        let _w = self.name_lock(&format!("iam:{name_key}")).await;
        if !self.names().roles.contains(&name_key) {
            return Err(StoreError::NotFound);
        }
        let n = sqlx::query("DELETE FROM iam_roles WHERE name_key = $1 AND document = $2")
            .bind(&name_key)
            .bind(expected)
            .execute(self.writer().await?)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        self.names().roles.remove(&name_key);
        drop(_w);
        self.durable().await?;
        Ok(true)
    }
}
