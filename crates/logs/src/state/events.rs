//! The events half of [`Logs`]: PutLogEvents' rules, and the two reads, GetLogEvents
//! (one stream, AWS's forward/backward tokens) and FilterLogEvents (a group's streams
//! merged in timestamp order, filtered by pattern). Kept apart from the group
//! operations so that each file reads as one concern; both are `impl Logs`.

use serde::{Deserialize, Deserializer, Serialize};

use super::{Logs, lock};
use crate::LogEvent;
use crate::error::{LogsError, invalid};
use crate::filter::FilterPattern;
use crate::groups::Result;
use crate::streams::{EVENT_OVERHEAD, Event, Group, MAX_PAGE_BYTES, MAX_PAGE_EVENTS, page_forward};
use crate::token::{self, Direction, EventKey};

/// An event as GetLogEvents returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputEvent {
    pub timestamp: i64,
    pub message: String,
    pub ingestion_time: i64,
}

/// An event as FilterLogEvents returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilteredEvent {
    pub log_stream_name: String,
    pub timestamp: i64,
    pub message: String,
    pub ingestion_time: i64,
    /// 56 digits, stable for the event (`aws logs tail --follow` de-duplicates by it).
    pub event_id: String,
}

/// GetLogEvents' result: AWS's tokens are never absent.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsPage {
    pub events: Vec<OutputEvent>,
    pub next_forward_token: String,
    pub next_backward_token: String,
}

/// PutLogEvents' events refused for their time, as AWS's indexes into the batch (the
/// too old and expired ones end before the `EndIndex`, the too new start at the
/// `StartIndex`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_new_log_event_start_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_old_log_event_end_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_log_event_end_index: Option<usize>,
}

/// Which events GetLogEvents reads. Decoded straight from the request (the members
/// are AWS's), so the API has nothing to copy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsQuery {
    pub start_time: Option<i64>,
    /// Exclusive.
    pub end_time: Option<i64>,
    pub limit: Option<usize>,
    #[serde(default, deserialize_with = "null_is_false")]
    pub start_from_head: bool,
    pub next_token: Option<String>,
}

/// Which streams and events FilterLogEvents reads, decoded from the request as
/// [`EventsQuery`] is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterQuery {
    #[serde(rename = "logStreamNames")]
    pub stream_names: Option<Vec<String>>,
    #[serde(rename = "logStreamNamePrefix")]
    pub stream_prefix: Option<String>,
    pub start_time: Option<i64>,
    /// Inclusive.
    pub end_time: Option<i64>,
    #[serde(rename = "filterPattern")]
    pub pattern: Option<String>,
    pub limit: Option<usize>,
    pub next_token: Option<String>,
}

/// A flag sent as `null` is unset, as the model's validation lets it through.
fn null_is_false<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// FilterLogEvents' result.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPage {
    pub events: Vec<FilteredEvent>,
    /// The streams searched (all of them completely).
    pub searched: Vec<String>,
    pub next_token: Option<String>,
}

/// Events more than this far in the future are rejected (2 hours).
const TOO_NEW_MS: i64 = 2 * 3600 * 1000;
/// Events older than this are rejected (14 days).
const TOO_OLD_MS: i64 = 14 * 24 * 3600 * 1000;
/// A batch's accepted events may span at most this (24 hours).
const MAX_SPAN_MS: i64 = 24 * 3600 * 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// FilterLogEvents' token tag (see `token.rs`).
const FILTER_TAG: &str = "e1_";

impl Logs {
    /// PutLogEvents: events in chronological order; those too new, too old or past the
    /// retention are rejected (their indexes returned), the rest stored.
    pub async fn put_events(
        &self,
        group: &str,
        stream: &str,
        events: Vec<LogEvent>,
    ) -> Result<RejectedInfo> {
        if events
            .windows(2)
            .any(|w| w[0].timestamp_ms > w[1].timestamp_ms)
        {
            return Err(invalid(
                "Log events in a single PutLogEvents request must be in chronological order.",
            ));
        }
        let size: usize = events
            .iter()
            .map(|e| e.message.len() + EVENT_OVERHEAD)
            .sum();
        if size > MAX_PAGE_BYTES {
            return Err(invalid(format!(
                "Upload too large: {size} bytes exceeds limit of {MAX_PAGE_BYTES}"
            )));
        }
        let memory = self.memory(group).await?;
        let now = self.clock.now();
        let mut g = lock(&memory);
        if !g.streams.contains_key(stream) {
            return Err(LogsError::StreamNotFound);
        }
        let expired_before = g.retention_days.map(|d| now - i64::from(d) * DAY_MS);
        let mut rejected = RejectedInfo::default();
        let too_old = events.partition_point(|e| e.timestamp_ms < now - TOO_OLD_MS);
        let expired = expired_before.map_or(0, |t| events.partition_point(|e| e.timestamp_ms < t));
        let too_new = events.partition_point(|e| e.timestamp_ms <= now + TOO_NEW_MS);
        let first = too_old.max(expired).min(too_new);
        if too_old > 0 {
            rejected.too_old_log_event_end_index = Some(too_old);
        }
        if expired > 0 {
            rejected.expired_log_event_end_index = Some(expired);
        }
        if too_new < events.len() {
            rejected.too_new_log_event_start_index = Some(too_new);
        }
        if first < too_new
            && events[too_new - 1].timestamp_ms - events[first].timestamp_ms > MAX_SPAN_MS
        {
            return Err(invalid(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
            ));
        }
        let s = g.stream_or_create(stream, now);
        for e in events.into_iter().take(too_new).skip(first) {
            s.insert(self.event(e, now));
        }
        Ok(rejected)
    }

    /// The earliest timestamp a read asking from `start_time` shows: events past the
    /// group's retention are gone, whatever the read asks.
    fn shown_from(&self, g: &Group, start_time: Option<i64>) -> i64 {
        let retained = g
            .retention_days
            .map_or(i64::MIN, |d| self.clock.now() - i64::from(d) * DAY_MS);
        start_time.unwrap_or(i64::MIN).max(retained)
    }

    /// GetLogEvents (AWS's token semantics: the forward token of the last page comes
    /// back unchanged when nothing follows).
    pub async fn get_events(
        &self,
        group: &str,
        stream: &str,
        q: EventsQuery,
    ) -> Result<EventsPage> {
        let position = q
            .next_token
            .as_deref()
            .map(token::parse_stream_token)
            .transpose()?;
        let memory = self.memory(group).await?;
        let g = lock(&memory);
        let s = g.streams.get(stream).ok_or(LogsError::StreamNotFound)?;
        let from = self.shown_from(&g, q.start_time);
        let (lo, hi) = (
            s.index_of((from, 0)),
            q.end_time
                .map_or(s.events.len(), |end| s.index_of((end, 0))),
        );
        let limit = page_limit(q.limit);
        // Where the range starts: what both tokens say when a first read finds nothing,
        // so that reading forward from there later finds what is appended meanwhile.
        let head = (from.max(0), 0);
        let (direction, boundary) = match position {
            Some(p) => p,
            None if q.start_from_head => (Direction::Forward, head),
            None => (
                Direction::Backward,
                s.events.get(hi).map_or((i64::MAX, 0), |e| e.key),
            ),
        };
        let page: Vec<&Event> = match direction {
            Direction::Forward => {
                let start = s.index_of(boundary).max(lo);
                page_forward(s.events.range(start..hi.max(start)), limit)
            }
            Direction::Backward => {
                let end = s.index_of(boundary).min(hi);
                let mut back = page_forward(s.events.range(lo.min(end)..end).rev(), limit);
                back.reverse();
                back
            }
        };
        let (forward, backward) = match (page.first(), page.last()) {
            (Some(first), Some(last)) => ((last.key.0, last.key.1 + 1), first.key),
            _ if position.is_none() => (head, head),
            _ => (boundary, boundary),
        };
        Ok(EventsPage {
            events: page
                .into_iter()
                .map(|e| OutputEvent {
                    timestamp: e.key.0,
                    message: e.message.clone(),
                    ingestion_time: e.ingestion_time,
                })
                .collect(),
            next_forward_token: token::stream_token(Direction::Forward, forward),
            next_backward_token: token::stream_token(Direction::Backward, backward),
        })
    }

    /// FilterLogEvents: the group's events (of the named or prefixed streams) in
    /// timestamp order, matching the pattern (`filter.rs`).
    pub async fn filter_events(&self, group: &str, q: FilterQuery) -> Result<FilterPage> {
        if q.stream_names.is_some() && q.stream_prefix.is_some() {
            return Err(invalid(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
            ));
        }
        let pattern = FilterPattern::parse(q.pattern.as_deref().unwrap_or(""))?;
        let after = q
            .next_token
            .as_deref()
            .map(|t| token::decode(FILTER_TAG, t).and_then(|k| token::parse_key(&k)))
            .transpose()?;
        let memory = self.memory(group).await?;
        let g = lock(&memory);
        let selected: Vec<&str> = match (&q.stream_names, &q.stream_prefix) {
            (Some(names), _) => names
                .iter()
                .filter(|n| g.streams.contains_key(n.as_str()))
                .map(String::as_str)
                .collect(),
            (None, prefix) => g
                .streams
                .keys()
                .filter(|n| prefix.as_deref().is_none_or(|p| n.starts_with(p)))
                .map(String::as_str)
                .collect(),
        };
        let from = self.shown_from(&g, q.start_time);
        let to = q.end_time.unwrap_or(i64::MAX);
        let limit = page_limit(q.limit);
        let (page, more) = g.filter(&selected, (from, to), after, &pattern, limit);
        let next_token = more
            .then(|| page.last())
            .flatten()
            .map(|(_, e)| token::encode(FILTER_TAG, &token::key_text(e.key)));
        Ok(FilterPage {
            events: page
                .iter()
                .map(|(stream, e)| FilteredEvent {
                    log_stream_name: stream.to_string(),
                    timestamp: e.key.0,
                    message: e.message.clone(),
                    ingestion_time: e.ingestion_time,
                    event_id: event_id(e.key),
                })
                .collect(),
            searched: selected.iter().map(|s| s.to_string()).collect(),
            next_token,
        })
    }
}

/// A read's page size: what it asks, at most (and by default) the most a page holds.
fn page_limit(asked: Option<usize>) -> usize {
    asked.unwrap_or(MAX_PAGE_EVENTS).min(MAX_PAGE_EVENTS)
}

/// AWS's event ids are 56 digits; these are the key's.
fn event_id(key: EventKey) -> String {
    format!("{:016}{}", 0, token::key_text(key))
}
