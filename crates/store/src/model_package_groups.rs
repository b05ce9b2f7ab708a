//! SageMaker model package groups on both SQL backends (table of migration 0003).
//!
//! Listing uses the same keyset query as projects ([`ProjectQuery`]): by name or by
//! creation time (ties broken by name), either direction, strictly after a cursor.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use crate::keyset::push_page;
use crate::{PostgresStore, ProjectQuery, ProjectSort, SqliteStore, StoreError, Tag};

/// A stored model package group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPackageGroupRecord {
    /// Unique; the primary key.
    pub name: String,
    /// Unique.
    pub arn: String,
    /// Creation time in microseconds since the epoch.
    pub creation_micros: i64,
    /// The group as a serialized JSON object (opaque to the store).
    pub document: Arc<str>,
    /// The tags it was created with.
    pub tags: Vec<Tag>,
}

/// Durable state of SageMaker model package groups. Each method is atomic.
#[async_trait]
pub trait ModelPackageGroupStore: Send + Sync {
    /// [`StoreError::AlreadyExists`] if the name or ARN is taken.
    async fn create_model_package_group(
        &self,
        group: &ModelPackageGroupRecord,
    ) -> Result<(), StoreError>;

    /// The group whose name or ARN is `name_or_arn`.
    async fn get_model_package_group(
        &self,
        name_or_arn: &str,
    ) -> Result<Option<ModelPackageGroupRecord>, StoreError>;

    /// Deletes the group whose name or ARN is `name_or_arn`; returns what was deleted.
    async fn delete_model_package_group(
        &self,
        name_or_arn: &str,
    ) -> Result<Option<ModelPackageGroupRecord>, StoreError>;

    /// One page of groups in the query's order, starting after its cursor.
    async fn list_model_package_groups(
        &self,
        query: &ProjectQuery,
    ) -> Result<Vec<ModelPackageGroupRecord>, StoreError>;

    /// Adds or overwrites `add` and removes the `remove` keys from the tags of the group
    /// whose ARN is `arn`, atomically; returns the resulting tags.
    /// [`StoreError::NotFound`] if there is no such group; [`StoreError::TooManyTags`]
    /// (and no change) if it would end up with more than `max_tags`.
    async fn update_model_package_group_tags(
        &self,
        arn: &str,
        add: &[Tag],
        remove: &[String],
        max_tags: usize,
    ) -> Result<Vec<Tag>, StoreError>;
}

/// `current` with `add` applied (existing keys keep their position) and `remove` gone.
fn merge_tags(mut current: Vec<Tag>, add: &[Tag], remove: &[String]) -> Vec<Tag> {
    for t in add {
        match current.iter_mut().find(|c| c.key == t.key) {
            Some(c) => c.value = t.value.clone(),
            None => current.push(t.clone()),
        }
    }
    current.retain(|t| !remove.contains(&t.key));
    current
}

fn encode_tags(tags: &[Tag]) -> String {
    let pairs: Vec<[&str; 2]> = tags
        .iter()
        .map(|t| [t.key.as_str(), t.value.as_str()])
        .collect();
    serde_json::to_string(&pairs).expect("string pairs serialize")
}

fn decode_tags(s: &str) -> Result<Vec<Tag>, StoreError> {
    let pairs: Vec<(String, String)> = serde_json::from_str(s)
        .map_err(|e| StoreError::Backend(format!("stored tags are unreadable: {e}")))?;
    Ok(pairs.into_iter().map(|(k, v)| Tag::new(k, v)).collect())
}

macro_rules! group_store_impl {
    ($store:ty, $db:ty, $collate:literal, $lock:literal) => {
        impl $store {
            fn group(row: &<$db as sqlx::Database>::Row) -> Result<ModelPackageGroupRecord, StoreError> {
                Ok(ModelPackageGroupRecord {
                    name: row.try_get(0)?,
                    arn: row.try_get(1)?,
                    creation_micros: row.try_get(2)?,
                    document: Arc::from(row.try_get::<String, _>(3)?),
                    tags: decode_tags(&row.try_get::<String, _>(4)?)?,
                })
            }
        }

        #[async_trait]
        impl ModelPackageGroupStore for $store {
            async fn create_model_package_group(
                &self,
                g: &ModelPackageGroupRecord,
            ) -> Result<(), StoreError> {
                use crate::batch::Value as V;
                self.write_one(
                    "INSERT INTO model_package_groups (name, arn, creation_micros, document, tags)
                     VALUES ({}, {}, {}, {}, {})",
                    vec![
                        V::Text(g.name.clone()),
                        V::Text(g.arn.clone()),
                        V::Int(g.creation_micros),
                        V::Text(g.document.to_string()),
                        V::Text(encode_tags(&g.tags)),
                    ],
                )
                .await?;
                self.durable().await
            }

            async fn get_model_package_group(
                &self,
                name: &str,
            ) -> Result<Option<ModelPackageGroupRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT name, arn, creation_micros, document, tags FROM model_package_groups
                     WHERE name = $1 OR arn = $1",
                )
                .bind(name)
                .fetch_optional(&self.read_pool)
                .await?;
                row.as_ref().map(Self::group).transpose()
            }

            async fn delete_model_package_group(
                &self,
                name: &str,
            ) -> Result<Option<ModelPackageGroupRecord>, StoreError> {
                let row = sqlx::query(
                    "DELETE FROM model_package_groups WHERE name = $1 OR arn = $1
                     RETURNING name, arn, creation_micros, document, tags",
                )
                .bind(name)
                .fetch_optional(self.writer().await?)
                .await?;
                row.as_ref().map(Self::group).transpose()
            }

            async fn list_model_package_groups(
                &self,
                q: &ProjectQuery,
            ) -> Result<Vec<ModelPackageGroupRecord>, StoreError> {
                let mut sql: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT name, arn, creation_micros, document, tags FROM model_package_groups WHERE 1 = 1",
                );
                let cmp = if q.descending { " < " } else { " > " };
                if let Some(after) = &q.after {
                    match q.sort {
                        ProjectSort::Name => {
                            sql.push(concat!(" AND name", $collate))
                                .push(cmp)
                                .push_bind(after.name.clone());
                        }
                        ProjectSort::CreationTime => {
                            sql.push(" AND (creation_micros")
                                .push(cmp)
                                .push_bind(after.creation_micros)
                                .push(" OR (creation_micros = ")
                                .push_bind(after.creation_micros)
                                .push(concat!(" AND name", $collate))
                                .push(cmp)
                                .push_bind(after.name.clone())
                                .push("))");
                        }
                    }
                }
                // Substring test without LIKE, so `%` and `_` in the filter are literal.
                let contains = [" AND length(replace(lower(name), lower(", "), '')) < length(name)"];
                push_page(&mut sql, q, contains, $collate);
                let rows = sql.build().fetch_all(&self.read_pool).await?;
                rows.iter().map(Self::group).collect()
            }

            async fn update_model_package_group_tags(
                &self,
                arn: &str,
                add: &[Tag],
                remove: &[String],
                max_tags: usize,
            ) -> Result<Vec<Tag>, StoreError> {
                let mut tx = self.writer().await?.begin().await?;
                let current: Option<String> = sqlx::query_scalar(concat!(
                    "SELECT tags FROM model_package_groups WHERE arn = $1",
                    $lock
                ))
                .bind(arn)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(current) = current else {
                    return Err(StoreError::NotFound);
                };
                let tags = merge_tags(decode_tags(&current)?, add, remove);
                if tags.len() > max_tags {
                    return Err(StoreError::TooManyTags { limit: max_tags });
                }
                sqlx::query("UPDATE model_package_groups SET tags = $1 WHERE arn = $2")
                    .bind(encode_tags(&tags))
                    .bind(arn)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                self.durable().await?;
                Ok(tags)
            }
        }
    };
}

group_store_impl!(SqliteStore, sqlx::Sqlite, "", "");
group_store_impl!(
    PostgresStore,
    sqlx::Postgres,
    " COLLATE \"C\"",
    " FOR UPDATE"
);
