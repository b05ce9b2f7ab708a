//! The in-memory half of the state: each log group's streams and their events.
//!
//! Events are kept in memory only, so they do not survive a restart (log groups do,
//! in the store). Memory is bounded per group, oldest first:
//! * a stream keeps at most [`MAX_EVENTS_PER_STREAM`] events and
//!   [`MAX_STREAM_BYTES`] bytes of messages; past either, its oldest events (by
//!   timestamp) are dropped;
//! * a group keeps at most [`MAX_STREAMS_PER_GROUP`] streams; a new stream past that
//!   drops the stream written least recently, with its events.
//!
//! A stream's events are kept sorted by [`EventKey`] (timestamp, then a sequence number
//! unique in the process), so the usual append is a push at the back, reads are binary
//! searches, and FilterLogEvents merges a group's streams in one order that pagination
//! tokens can point into.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use serde::Serialize;

use crate::error::LogsError;
use crate::filter::FilterPattern;
use crate::token::EventKey;

/// Events a stream keeps; older ones are dropped.
pub const MAX_EVENTS_PER_STREAM: usize = 10_000;
/// Message bytes a stream keeps; older events are dropped.
pub const MAX_STREAM_BYTES: usize = 4 * 1024 * 1024;
/// Streams a group keeps; the least recently written one is dropped for a new one.
pub const MAX_STREAMS_PER_GROUP: usize = 1_000;
/// Bytes AWS counts for each event besides its message (batch and page sizes).
pub const EVENT_OVERHEAD: usize = 26;
/// Largest page of events, in AWS's bytes.
pub const MAX_PAGE_BYTES: usize = 1_048_576;
/// Most events in a page (and the default limit).
pub const MAX_PAGE_EVENTS: usize = 10_000;

/// One stored event.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub key: EventKey,
    pub ingestion_time: i64,
    pub message: String,
}

/// One stream's events and bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    pub creation_time: i64,
    pub events: VecDeque<Event>,
    bytes: usize,
    pub last_ingestion_time: Option<i64>,
    /// The sequence number of the last write (for dropping the least recently written).
    last_write: u64,
}

impl Stream {
    /// Stores `event` at its place in key order, then drops the oldest events past the
    /// bounds.
    pub fn insert(&mut self, event: Event) {
        self.bytes += event.message.len();
        self.last_ingestion_time = Some(event.ingestion_time);
        self.last_write = event.key.1;
        match self.events.back() {
            Some(last) if last.key > event.key => {
                let at = self.events.partition_point(|e| e.key < event.key);
                self.events.insert(at, event);
            }
            _ => self.events.push_back(event),
        }
        while self.events.len() > MAX_EVENTS_PER_STREAM
            || (self.bytes > MAX_STREAM_BYTES && self.events.len() > 1)
        {
            if let Some(dropped) = self.events.pop_front() {
                self.bytes -= dropped.message.len();
            }
        }
    }

    /// The index of the first event whose key is at least `key`.
    pub fn index_of(&self, key: EventKey) -> usize {
        self.events.partition_point(|e| e.key < key)
    }

    /// What DescribeLogStreams shows of the stream named `name`.
    pub fn info(&self, name: &str, arn: String) -> StreamInfo {
        StreamInfo {
            log_stream_name: name.to_string(),
            creation_time: self.creation_time,
            first_event_timestamp: self.events.front().map(|e| e.key.0),
            last_event_timestamp: self.events.back().map(|e| e.key.0),
            last_ingestion_time: self.last_ingestion_time,
            upload_sequence_token: self.last_write.max(1).to_string(),
            arn,
            stored_bytes: 0,
        }
    }

    /// The last `max_bytes` bytes of the messages concatenated, cut forward to a
    /// character boundary.
    pub fn tail(&self, max_bytes: usize) -> String {
        let mut taken = 0;
        let mut from = self.events.len();
        while from > 0 && taken < max_bytes {
            from -= 1;
            taken += self.events[from].message.len();
        }
        let mut out = String::with_capacity(taken);
        for e in self.events.range(from..) {
            out.push_str(&e.message);
        }
        let mut cut = out.len().saturating_sub(max_bytes);
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out.split_off(cut)
    }
}

/// A stream as DescribeLogStreams returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamInfo {
    pub log_stream_name: String,
    pub creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ingestion_time: Option<i64>,
    pub upload_sequence_token: String,
    pub arn: String,
    /// Always 0, as AWS reports it since 2019.
    pub stored_bytes: i64,
}

/// A group's streams (and the retention its reads honour).
#[derive(Debug, Default)]
pub(crate) struct Group {
    pub retention_days: Option<i32>,
    pub streams: BTreeMap<String, Stream>,
}

impl Group {
    /// Adds an empty stream; `StreamAlreadyExists` if it is there.
    pub fn create_stream(&mut self, name: &str, now: i64) -> Result<(), LogsError> {
        if self.streams.contains_key(name) {
            return Err(LogsError::StreamAlreadyExists);
        }
        self.make_room();
        self.streams.insert(
            name.to_string(),
            Stream {
                creation_time: now,
                ..Stream::default()
            },
        );
        Ok(())
    }

    /// The stream `name`, created (as Lambda's are) when absent.
    pub fn stream_or_create(&mut self, name: &str, now: i64) -> &mut Stream {
        if !self.streams.contains_key(name) {
            self.make_room();
        }
        self.streams
            .entry(name.to_string())
            .or_insert_with(|| Stream {
                creation_time: now,
                ..Stream::default()
            })
    }

    /// Drops the least recently written stream while the group is full.
    fn make_room(&mut self) {
        while self.streams.len() >= MAX_STREAMS_PER_GROUP {
            let oldest = self
                .streams
                .iter()
                .min_by_key(|(name, s)| (s.last_write, s.creation_time, (*name).clone()))
                .map(|(name, _)| name.clone());
            match oldest {
                Some(name) => self.streams.remove(&name),
                None => break,
            };
        }
    }

    /// Message bytes held for the group (DescribeLogGroups' `storedBytes`).
    pub fn stored_bytes(&self) -> usize {
        self.streams.values().map(|s| s.bytes).sum()
    }

    /// Up to `limit` events (and [`MAX_PAGE_BYTES`]) of the streams `selected` names,
    /// in key order, with keys after `after` and timestamps in `[from, to]`, matching
    /// `pattern`; and whether more events may follow.
    pub fn filter<'a>(
        &'a self,
        selected: &[&'a str],
        window: (i64, i64),
        after: Option<EventKey>,
        pattern: &FilterPattern,
        limit: usize,
    ) -> (Vec<(&'a str, &'a Event)>, bool) {
        let (from, to) = window;
        let start = match after {
            Some((ts, seq)) if ts >= from => (ts, seq.saturating_add(1)),
            _ => (from, 0),
        };
        // One cursor per stream; the heap yields the smallest key next.
        let mut heap = BinaryHeap::new();
        let streams: Vec<(&str, &Stream)> = selected
            .iter()
            .filter_map(|name| self.streams.get(*name).map(|s| (*name, s)))
            .collect();
        for (i, (_, s)) in streams.iter().enumerate() {
            let at = s.index_of(start);
            if let Some(e) = s.events.get(at) {
                heap.push(Reverse((e.key, i, at)));
            }
        }
        let (mut out, mut bytes) = (Vec::new(), 0);
        while let Some(Reverse((key, i, at))) = heap.pop() {
            if key.0 > to {
                break;
            }
            let (name, s) = streams[i];
            let e = &s.events[at];
            let size = e.message.len() + EVENT_OVERHEAD;
            if pattern.matches(&e.message) {
                if out.len() == limit || bytes + size > MAX_PAGE_BYTES {
                    return (out, true);
                }
                bytes += size;
                out.push((name, e));
            }
            if let Some(next) = s.events.get(at + 1) {
                heap.push(Reverse((next.key, i, at + 1)));
            }
        }
        (out, false)
    }
}

/// The first of `events` that fit in a page: at most `limit` and [`MAX_PAGE_BYTES`].
pub(crate) fn page_forward<'a>(
    events: impl Iterator<Item = &'a Event>,
    limit: usize,
) -> Vec<&'a Event> {
    let (mut out, mut bytes) = (Vec::new(), 0);
    for e in events {
        let size = e.message.len() + EVENT_OVERHEAD;
        if out.len() == limit || bytes + size > MAX_PAGE_BYTES {
            break;
        }
        bytes += size;
        out.push(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: i64, seq: u64, message: &str) -> Event {
        Event {
            key: (ts, seq),
            ingestion_time: ts,
            message: message.into(),
        }
    }

    #[test]
    fn events_stay_in_key_order_and_the_oldest_are_dropped() {
        let mut s = Stream::default();
        s.insert(ev(10, 1, "b"));
        s.insert(ev(5, 2, "a"));
        s.insert(ev(10, 3, "c"));
        let order: Vec<&str> = s.events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(order, ["a", "b", "c"]);
        for i in 0..MAX_EVENTS_PER_STREAM as u64 {
            s.insert(ev(100 + i as i64, 10 + i, "x"));
        }
        assert_eq!(s.events.len(), MAX_EVENTS_PER_STREAM);
        assert_eq!(s.events.front().unwrap().key.0, 100);
        // Bytes bound too: one big message pushes out the rest, but is itself kept.
        s.insert(ev(1_000_000, 99_999, &"y".repeat(MAX_STREAM_BYTES + 1)));
        assert_eq!(s.events.len(), 1);
    }

    #[test]
    fn tail_is_the_last_bytes_on_a_char_boundary() {
        let mut s = Stream::default();
        assert_eq!(s.tail(10), "");
        s.insert(ev(1, 1, "hello\n"));
        s.insert(ev(2, 2, "wörld\n"));
        assert_eq!(s.tail(100), "hello\nwörld\n");
        assert_eq!(s.tail(4), "rld\n");
        // 5 bytes from the end falls inside 'ö' (2 bytes): cut forward to 'r'.
        assert_eq!(s.tail(5), "rld\n");
        assert_eq!(s.tail(6), "örld\n");
        assert_eq!(s.tail(8), "\nwörld\n");
        assert_eq!(s.tail(0), "");
    }

    #[test]
    fn a_full_group_drops_its_least_recently_written_stream() {
        let mut g = Group::default();
        for i in 0..MAX_STREAMS_PER_GROUP {
            g.create_stream(&format!("s{i}"), 0).unwrap();
        }
        g.stream_or_create("s0", 0).insert(ev(1, 7, "m"));
        assert_eq!(
            g.create_stream("s0", 0).unwrap_err(),
            LogsError::StreamAlreadyExists
        );
        g.stream_or_create("new", 1).insert(ev(1, 8, "m"));
        assert_eq!(g.streams.len(), MAX_STREAMS_PER_GROUP);
        assert!(g.streams.contains_key("s0"), "written recently");
        assert!(
            !g.streams.contains_key("s1"),
            "never written, created first"
        );
        assert_eq!(g.stored_bytes(), 2);
    }

    #[test]
    fn filter_merges_streams_in_key_order_and_pages() {
        let mut g = Group::default();
        for (stream, ts, seq, m) in [
            ("a", 1, 1, "ERROR one"),
            ("b", 2, 2, "INFO two"),
            ("a", 3, 3, "ERROR three"),
            ("b", 3, 4, "ERROR four"),
            ("b", 9, 5, "ERROR late"),
        ] {
            g.stream_or_create(stream, 0).insert(ev(ts, seq, m));
        }
        let all = FilterPattern::default();
        let (page, more) = g.filter(&["a", "b"], (0, 8), None, &all, 2);
        let got: Vec<(&str, &str)> = page.iter().map(|(s, e)| (*s, e.message.as_str())).collect();
        assert_eq!(got, [("a", "ERROR one"), ("b", "INFO two")]);
        assert!(more);
        let after = page.last().unwrap().1.key;
        let (page, more) = g.filter(&["a", "b"], (0, 8), Some(after), &all, 2);
        let got: Vec<&str> = page.iter().map(|(_, e)| e.message.as_str()).collect();
        assert_eq!(got, ["ERROR three", "ERROR four"]);
        // The next event is outside the window: the page is the last.
        assert!(!more);
        let errors = FilterPattern::parse("ERROR").unwrap();
        let (page, more) = g.filter(&["b"], (0, 100), None, &errors, 10);
        let got: Vec<&str> = page.iter().map(|(_, e)| e.message.as_str()).collect();
        assert_eq!(got, ["ERROR four", "ERROR late"]);
        assert!(!more);
    }
}
