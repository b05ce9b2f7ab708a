//! The SQL of a [`ProjectQuery`] page shared by the listings that build it as a query:
//! PostgreSQL's projects and both backends' model package groups (SQLite answers its
//! projects from memory). Each listing writes its own cursor condition (the tables'
//! indexes differ there); the filters, the order and the limit are the same everywhere
//! but for the dialect's substring test and collation, which the caller passes.

use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::{ProjectQuery, ProjectSort};

/// Appends to a `WHERE` clause `q`'s filters (creation-time bounds, both strict; the
/// name filter as `contains[0]`, the bound substring, `contains[1]`), then its order (by
/// name, or by creation time with ties broken by name; names compared with `collate`,
/// which makes PostgreSQL order bytes as SQLite does) and its limit.
pub(crate) fn push_page<DB: Database>(
    sql: &mut QueryBuilder<DB>,
    q: &ProjectQuery,
    contains: [&'static str; 2],
    collate: &'static str,
) where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    if let Some(t) = q.created_after {
        sql.push(" AND creation_micros > ").push_bind(t);
    }
    if let Some(t) = q.created_before {
        sql.push(" AND creation_micros < ").push_bind(t);
    }
    if let Some(s) = &q.name_contains {
        sql.push(contains[0]).push_bind(s.clone()).push(contains[1]);
    }
    let dir = if q.descending { " DESC" } else { " ASC" };
    match q.sort {
        ProjectSort::Name => sql.push(" ORDER BY name").push(collate).push(dir),
        ProjectSort::CreationTime => sql
            .push(" ORDER BY creation_micros")
            .push(dir)
            .push(", name")
            .push(collate)
            .push(dir),
    };
    sql.push(" LIMIT ")
        .push_bind(i64::try_from(q.limit).unwrap_or(i64::MAX));
}
