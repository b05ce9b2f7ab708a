//! The embedded backend's project cache (every project and its tags, in memory: see
//! the parent module for why it stays coherent) and the helpers its project writes share.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::SqliteStore;
use crate::batch::{Value as BV, Write};
use crate::{ProjectQuery, ProjectRecord, StoreError, Tag};

#[derive(Default)]
pub(super) struct Cache {
    pub(super) by_name: BTreeMap<String, Arc<ProjectRecord>>,
    pub(super) by_creation: BTreeSet<(i64, String)>,
    pub(super) arn_to_name: HashMap<String, String>,
    pub(super) tags: HashMap<String, BTreeMap<String, String>>,
    /// `(ProjectStatus, name)` of every project, for [`Cache::with_status`].
    pub(super) by_status: BTreeSet<(String, String)>,
}

/// The status a project document holds (the store reads nothing else of it).
fn status_of(document: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Status {
        #[serde(rename = "ProjectStatus", default)]
        status: String,
    }
    serde_json::from_str::<Status>(document)
        .map(|s| s.status)
        .unwrap_or_default()
}

impl Cache {
    pub(super) fn insert(&mut self, p: ProjectRecord) {
        self.by_creation.insert((p.creation_micros, p.name.clone()));
        self.arn_to_name.insert(p.arn.clone(), p.name.clone());
        self.by_status
            .insert((status_of(&p.document), p.name.clone()));
        self.by_name.insert(p.name.clone(), Arc::new(p));
    }

    pub(super) fn remove(&mut self, name: &str) -> Option<Arc<ProjectRecord>> {
        let p = self.by_name.remove(name)?;
        self.by_creation
            .remove(&(p.creation_micros, p.name.clone()));
        self.by_status
            .remove(&(status_of(&p.document), p.name.clone()));
        self.arn_to_name.remove(&p.arn);
        self.tags.remove(&p.arn);
        Some(p)
    }

    /// The projects whose status is one of `statuses`, by name.
    pub(super) fn with_status(&self, statuses: &[&str]) -> Vec<ProjectRecord> {
        let mut names: Vec<&String> = statuses
            .iter()
            .flat_map(|s| {
                let from = (s.to_string(), String::new());
                self.by_status
                    .range(from..)
                    .take_while(move |(st, _)| st == s)
                    .map(|(_, name)| name)
            })
            .collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter_map(|n| self.by_name.get(n).map(|p| (**p).clone()))
            .collect()
    }

    pub(super) fn tag_count_after(&self, arn: &str, tags: &[Tag]) -> usize {
        let existing = self.tags.get(arn);
        let mut new_keys: BTreeSet<&str> = BTreeSet::new();
        for t in tags {
            if existing.is_none_or(|m| !m.contains_key(&t.key)) {
                new_keys.insert(&t.key);
            }
        }
        existing.map_or(0, BTreeMap::len) + new_keys.len()
    }

    pub(super) fn put_tags(&mut self, arn: &str, tags: &[Tag]) {
        if tags.is_empty() {
            return;
        }
        let map = self.tags.entry(arn.to_owned()).or_default();
        for t in tags {
            map.insert(t.key.clone(), t.value.clone());
        }
    }
}

pub(super) async fn upsert_tags(
    tx: &mut sqlx::SqliteConnection,
    arn: &str,
    tags: &[Tag],
) -> Result<(), StoreError> {
    for t in tags {
        sqlx::query(
            "INSERT INTO tags (resource_arn, key, value) VALUES (?, ?, ?)
             ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value",
        )
        .bind(arn)
        .bind(&t.key)
        .bind(&t.value)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Removes what hangs off a project row being deleted in `tx`: its tags (by `arn`) and
/// its status history (by `id`).
pub(super) async fn forget_project(
    tx: &mut sqlx::SqliteConnection,
    arn: &str,
    id: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM tags WHERE resource_arn = ?")
        .bind(arn)
        .execute(&mut *tx)
        .await?;
    sqlx::query(crate::project_history::FORGET)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Whether the stored `p` is still the record `expected` was read as.
pub(super) fn same(p: &ProjectRecord, expected: &ProjectRecord) -> bool {
    p.id == expected.id && p.version == expected.version
}

pub(super) fn matches(q: &ProjectQuery, p: &ProjectRecord) -> bool {
    q.created_after.is_none_or(|t| p.creation_micros > t)
        && q.created_before.is_none_or(|t| p.creation_micros < t)
        && q.name_contains.as_deref().is_none_or(|s| {
            p.name
                .to_ascii_lowercase()
                .contains(&s.to_ascii_lowercase())
        })
}

impl SqliteStore {
    /// Commits a project row's `write` with the upsert of each of `tags` on `arn`, as one
    /// write through the combiner: `create_project` and `update_project` differ only in
    /// the row statement (the write is moved in: no extra allocation or round trip).
    pub(super) async fn write_project(
        &self,
        mut write: Write,
        arn: &str,
        tags: &[Tag],
    ) -> Result<(), StoreError> {
        for t in tags {
            write.statements.push((
                "INSERT INTO tags (resource_arn, key, value) VALUES ({}, {}, {})
             ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value"
                    .into(),
                3,
            ));
            write.values.extend([
                BV::Text(arn.to_string()),
                BV::Text(t.key.clone()),
                BV::Text(t.value.clone()),
            ]);
        }
        self.batcher
            .write(write)
            .await
            .map_err(crate::health::write_error)
    }
}
