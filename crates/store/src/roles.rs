//! IAM roles on both SQL backends (table of migration 0003). Role names are unique
//! ignoring case, as in IAM: the primary key is the lowercased name.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Row;

use crate::{PostgresStore, SqliteStore, StoreError};

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
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

macro_rules! role_store_impl {
    ($store:ty) => {
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
                row.map(|row| {
                    Ok(RoleRecord {
                        name: row.try_get(0)?,
                        role_id: row.try_get(1)?,
                        arn: row.try_get(2)?,
                        creation_micros: row.try_get(3)?,
                        document: Arc::from(row.try_get::<String, _>(4)?),
                    })
                })
                .transpose()
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

role_store_impl!(SqliteStore);
role_store_impl!(PostgresStore);

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
}
