//! How Service Catalog objects are kept: one JSON document per object in the store's
//! catalog tables, changed by optimistic concurrency (read, change, write back at the
//! version read, retry on conflict).
//!
//! Every object kind (portfolios, products, provisioned products, records) goes through
//! these helpers, so the retry policy and the error mapping live in one place. They
//! never decide what a change means: callers pass the change as a closure.

use std::sync::Arc;

use sagestack_store::{
    CatalogCursor, CatalogKind, CatalogRecord, Modified, StoreError, catalog_modify,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Catalog, Result};
use crate::error::ScError;

/// How many times a change is retried when other writers keep getting there first.
const ATTEMPTS: usize = 16;

pub(crate) fn internal(e: impl std::fmt::Display) -> ScError {
    ScError::Internal(e.to_string())
}

pub(crate) fn parse<T: DeserializeOwned>(record: &CatalogRecord) -> Result<T> {
    serde_json::from_str(&record.document)
        .map_err(|e| ScError::Internal(format!("stored document {} is unreadable: {e}", record.id)))
}

fn document<T: Serialize>(value: &T) -> Result<Arc<str>> {
    Ok(Arc::from(serde_json::to_string(value).map_err(internal)?))
}

impl Catalog {
    /// Stores a new document (`name` is the unique name the store indexes, if any).
    pub(crate) async fn insert<T: Serialize>(
        &self,
        kind: CatalogKind,
        id: &str,
        name: Option<&str>,
        value: &T,
    ) -> Result<()> {
        let record = self.new_record(id, name, value)?;
        self.store.catalog_insert(kind, &record).await?;
        Ok(())
    }

    /// The first version of a document, as [`Catalog::insert`] stores it.
    pub(crate) fn new_record<T: Serialize>(
        &self,
        id: &str,
        name: Option<&str>,
        value: &T,
    ) -> Result<CatalogRecord> {
        Ok(CatalogRecord {
            id: id.to_string(),
            name: name.map(str::to_string),
            version: 1,
            created_micros: self.micros(),
            document: document(value)?,
        })
    }

    /// The document with this id, if any.
    pub(crate) async fn read<T: DeserializeOwned>(
        &self,
        kind: CatalogKind,
        id: &str,
    ) -> Result<Option<T>> {
        match self.store.catalog_get(kind, id).await? {
            Some(r) => Ok(Some(parse(&r)?)),
            None => Ok(None),
        }
    }

    /// The document with this id, or `not_found`'s error.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        kind: CatalogKind,
        id: &str,
        not_found: fn(&str) -> ScError,
    ) -> Result<T> {
        self.read(kind, id).await?.ok_or_else(|| not_found(id))
    }

    /// The document with this unique name, or `not_found`'s error.
    pub(crate) async fn get_by_name<T: DeserializeOwned>(
        &self,
        kind: CatalogKind,
        name: &str,
        not_found: fn(&str) -> ScError,
    ) -> Result<T> {
        match self.store.catalog_get_by_name(kind, name).await? {
            Some(r) => parse(&r),
            None => Err(not_found(name)),
        }
    }

    /// Every document of a kind, oldest first.
    pub(crate) async fn all<T: DeserializeOwned>(&self, kind: CatalogKind) -> Result<Vec<T>> {
        const BATCH: usize = 500;
        let mut out = Vec::new();
        let mut after: Option<CatalogCursor> = None;
        loop {
            let batch = self.store.catalog_list(kind, after.as_ref(), BATCH).await?;
            let done = batch.len() < BATCH;
            if let Some(last) = batch.last() {
                after = Some(CatalogCursor {
                    created_micros: last.created_micros,
                    id: last.id.clone(),
                });
            }
            for r in &batch {
                out.push(parse(r)?);
            }
            if done {
                return Ok(out);
            }
        }
    }

    /// Reads, changes and writes back a document, retrying when another writer got there
    /// first; the stored result, or `not_found`'s error when there is no such document.
    pub(crate) async fn modify<T, F>(
        &self,
        kind: CatalogKind,
        id: &str,
        not_found: fn(&str) -> ScError,
        change: F,
    ) -> Result<T>
    where
        T: DeserializeOwned + Serialize,
        F: FnMut(&mut T) -> Result<()>,
    {
        self.try_modify(kind, id, change)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// [`Catalog::modify`], with `None` when the document is gone (before or during).
    pub(crate) async fn try_modify<T, F>(
        &self,
        kind: CatalogKind,
        id: &str,
        mut change: F,
    ) -> Result<Option<T>>
    where
        T: DeserializeOwned + Serialize,
        F: FnMut(&mut T) -> Result<()>,
    {
        let modified = catalog_modify(&*self.store, kind, id, ATTEMPTS, |r| -> Result<_> {
            let mut value: T = parse(r)?;
            change(&mut value)?;
            let written = document(&value)?;
            Ok((value, written))
        });
        match modified.await? {
            Modified::Written(value, _) => Ok(Some(value)),
            Modified::Gone => Ok(None),
            Modified::Contended => Err(ScError::Internal(format!(
                "{id} is being changed concurrently; try again"
            ))),
        }
    }

    /// Deletes a portfolio or product; the store refuses (a conflict) while associations
    /// hold it, which is `ResourceInUseException` with `in_use`'s message.
    pub(crate) async fn delete_unassociated(
        &self,
        kind: CatalogKind,
        id: &str,
        not_found: fn(&str) -> ScError,
        in_use: String,
    ) -> Result<()> {
        match self.store.catalog_delete(kind, id).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(not_found(id)),
            Err(StoreError::Conflict) => Err(ScError::ResourceInUse(in_use)),
            Err(e) => Err(e.into()),
        }
    }
}
