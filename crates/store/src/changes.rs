//! The change feed of shared documents on PostgreSQL: how a replica learns that another
//! replica changed a document it keeps in memory (EventBridge's rules and buses).
//!
//! A trigger on `sc_documents` (installed at connect, [`TRIGGER_DDL`]) sends
//! `NOTIFY sagestack_documents, '<schema> <kind> <id>'` for the kinds in [`WATCHED`]; it
//! fires inside the writing transaction, so a notification is delivered only if, and
//! once, the change commits. One task per store `LISTEN`s on one connection of the pool
//! and fans the changes of its own schema out to the subscribers
//! ([`ServiceCatalogStore::catalog_changes`](crate::ServiceCatalogStore::catalog_changes)).
//!
//! Notifications are not durable: while the listening connection is down, changes go
//! unseen. So after every (re)connection the task sends [`CatalogChange::Missed`] and a
//! subscriber re-reads everything it keeps; a subscriber that falls behind the channel
//! ([`tokio::sync::broadcast`]'s `Lagged`) does the same.
//!
//! The embedded store has no feed: one process owns its data directory, so nothing else
//! can change a document under a cache.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::broadcast;

/// The kinds whose changes are announced (the documents kept in memory by a service).
pub(crate) const WATCHED: &[&str] = &["events-bus", "events-rule"];

const CHANNEL: &str = "sagestack_documents";

/// Installs the notifying trigger (idempotent; run in the migrating transaction). Kept
/// out of the numbered migrations: it has no SQLite counterpart, and its list of kinds
/// follows [`WATCHED`].
pub(crate) fn trigger_ddl() -> String {
    let kinds = WATCHED
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"CREATE OR REPLACE FUNCTION sagestack_documents_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA || ' ' || OLD.kind || ' ' || OLD.id);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION sagestack_documents_notify_new() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA || ' ' || NEW.kind || ' ' || NEW.id);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER sagestack_documents_written AFTER INSERT OR UPDATE ON sc_documents
    FOR EACH ROW WHEN (NEW.kind IN ({kinds})) EXECUTE FUNCTION sagestack_documents_notify_new();
CREATE OR REPLACE TRIGGER sagestack_documents_deleted AFTER DELETE ON sc_documents
    FOR EACH ROW WHEN (OLD.kind IN ({kinds})) EXECUTE FUNCTION sagestack_documents_notify();"#
    )
}

/// One announced change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogChange {
    /// The document `id` of `kind` (a [`crate::CatalogKind::as_str`]) was written or
    /// deleted by some process (this one included): read it again.
    Changed { kind: String, id: String },
    /// Changes may have gone unseen (the listening connection was (re)established):
    /// read everything again.
    Missed,
}

/// The listening task of one store; aborted when the store goes.
pub(crate) struct Feed {
    pub(crate) sender: broadcast::Sender<CatalogChange>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Feed {
    /// Starts listening over a connection of `pool` (the pool's schema is the one whose
    /// changes are passed on).
    pub(crate) fn start(pool: PgPool) -> Feed {
        let (sender, _) = broadcast::channel(1024);
        let task = tokio::spawn(listen(pool, sender.clone()));
        Feed { sender, task }
    }
}

async fn listen(pool: PgPool, sender: broadcast::Sender<CatalogChange>) {
    let mut schema: Option<String> = None;
    loop {
        let connected = async {
            if schema.is_none() {
                schema = Some(
                    sqlx::query_scalar::<_, String>("SELECT current_schema()")
                        .fetch_one(&pool)
                        .await?,
                );
            }
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        let mut listener = match connected {
            Ok(l) => l,
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "document change feed: cannot listen; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // Whatever changed before LISTEN took effect went unseen.
        let _ = sender.send(CatalogChange::Missed);
        let ours = schema.as_deref().unwrap_or_default();
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    let mut parts = n.payload().splitn(3, ' ');
                    let (Some(s), Some(kind), Some(id)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    if s == ours {
                        let (kind, id) = (kind.to_owned(), id.to_owned());
                        let _ = sender.send(CatalogChange::Changed { kind, id });
                    }
                }
                // The connection was lost: listen again on a new one.
                Ok(None) => break,
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "document change feed: connection failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}
