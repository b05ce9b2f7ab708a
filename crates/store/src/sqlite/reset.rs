//! Emptying the embedded store in place (`POST /_sagestack/reset`, for test sessions):
//! every table but the migrations' emptied in one transaction, and everything the
//! store keeps in memory of them (the project cache, the names, the stack cache)
//! emptied with it, so the store reads as a freshly opened empty one.
//!
//! Never called while an operation runs: the server refuses a reset until stacks,
//! projects and invocations are idle (`crates/server/src/reset.rs`). The store still
//! guards itself: it holds the project writer and every name lock across the wipe, and
//! drains the writes queued behind first, so no write of its own lands half before and
//! half after.

use sqlx::Row;

use super::SqliteStore;
use crate::StoreError;

impl SqliteStore {
    /// See the module documentation. Table names are read from the schema, so a table a
    /// later migration adds is emptied too; `sqlite_sequence` is kept, so ids handed out
    /// by `AUTOINCREMENT` columns never repeat within the process (a cursor held in
    /// memory cannot mistake a new row for an old one).
    pub(crate) async fn reset_all(&self) -> Result<(), StoreError> {
        let _writer = self.writer.lock().await;
        let mut names = Vec::with_capacity(self.name_locks.len());
        for lock in self.name_locks.iter() {
            names.push(lock.lock().await);
        }
        let pool = self.writer().await?;
        let tables: Vec<String> = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table'
               AND name NOT LIKE 'sqlite_%' AND name <> 'sagestack_migrations'",
        )
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
        let mut tx = pool.begin().await?;
        // Children and parents go in one transaction; the foreign keys are checked at
        // its commit, when every table is empty.
        sqlx::query("PRAGMA defer_foreign_keys = ON")
            .execute(&mut *tx)
            .await?;
        for table in &tables {
            // The names come from the schema, quoted: nothing a client chose.
            let statement = format!("DELETE FROM \"{}\"", table.replace('"', "\"\""));
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = super::Cache::default();
        self.rebuild().await?;
        drop(names);
        drop(_writer);
        self.sync.sync().await
    }
}

#[cfg(test)]
mod tests {
    use crate::{ProjectRecord, Store};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reset_empties_tables_and_memory_and_names_are_free_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::SqliteStore::open(dir.path()).await.unwrap();
        let project = ProjectRecord {
            name: "p".into(),
            id: "p-1".into(),
            arn: "arn:p".into(),
            creation_micros: 1,
            version: 1,
            document: "{\"ProjectStatus\":\"Pending\"}".into(),
        };
        store.create_project(&project, &[]).await.unwrap();
        let bucket = crate::BucketRecord {
            name: "b".into(),
            region: "us-east-1".into(),
            creation_micros: 1,
            document: "{}".into(),
        };
        crate::ObjectStore::create_bucket(&store, &bucket)
            .await
            .unwrap();
        store.reset().await.unwrap();
        assert_eq!(store.get_project("p").await.unwrap(), None);
        assert!(
            store
                .projects_with_status(&["Pending"])
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            crate::ObjectStore::list_buckets(&store)
                .await
                .unwrap()
                .is_empty()
        );
        // The same names can be created again, in memory and in the tables.
        store.create_project(&project, &[]).await.unwrap();
        crate::ObjectStore::create_bucket(&store, &bucket)
            .await
            .unwrap();
        drop(store);
        let reopened = super::SqliteStore::open(dir.path()).await.unwrap();
        assert!(reopened.get_project("p").await.unwrap().is_some());
    }
}
