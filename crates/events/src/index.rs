//! The in-memory index of each bus's enabled pattern rules, so that matching an event
//! tries only the rules that could match it, not every rule of the bus.
//!
//! A rule is filed under the exact `source` values its pattern requires
//! ([`Pattern::required_strings`]); failing that, under its exact `detail-type` values;
//! failing that (a prefix, `anything-but`, `$or` on those fields, no condition at all),
//! in the bus's fallback list, which every event tries. A rule is filed in one place
//! only, so an event's candidates are `by_source[source] ∪ by_detail_type[detail-type]
//! ∪ fallback` without duplicates, and each candidate's full pattern is then matched.
//! Filing only under required values keeps this exact: an event whose `source` is not
//! among a rule's required sources cannot match it (tested against a full scan over the
//! shared pattern table).
//!
//! The index holds no rule documents: the state rebuilds it from the store when it
//! first loads and updates it on every rule change (see `state.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::Pattern;

/// One indexed rule.
#[derive(Debug)]
struct Entry {
    name: String,
    pattern: Pattern,
}

/// Where a rule was filed, to take it out again.
#[derive(Debug, Clone)]
enum Filing {
    Source(Vec<String>),
    DetailType(Vec<String>),
    Fallback,
}

#[derive(Debug, Default)]
struct BusIndex {
    by_source: HashMap<String, Vec<Arc<Entry>>>,
    by_detail_type: HashMap<String, Vec<Arc<Entry>>>,
    fallback: Vec<Arc<Entry>>,
    filed: HashMap<String, Filing>,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Index {
    buses: HashMap<String, BusIndex>,
}

fn unique(values: Vec<&str>) -> Vec<String> {
    let mut out: Vec<String> = values.into_iter().map(str::to_owned).collect();
    out.sort();
    out.dedup();
    out
}

fn take_out(list: &mut Vec<Arc<Entry>>, name: &str) {
    list.retain(|e| e.name != name);
}

impl BusIndex {
    fn remove(&mut self, name: &str) {
        let Some(filing) = self.filed.remove(name) else {
            return;
        };
        let drop_from = |map: &mut HashMap<String, Vec<Arc<Entry>>>, keys: Vec<String>| {
            for k in keys {
                if let Some(list) = map.get_mut(&k) {
                    take_out(list, name);
                    if list.is_empty() {
                        map.remove(&k);
                    }
                }
            }
        };
        match filing {
            Filing::Source(keys) => drop_from(&mut self.by_source, keys),
            Filing::DetailType(keys) => drop_from(&mut self.by_detail_type, keys),
            Filing::Fallback => take_out(&mut self.fallback, name),
        }
    }

    fn insert(&mut self, name: &str, pattern: Pattern) {
        self.remove(name);
        let filing = if let Some(sources) = pattern.required_strings("source") {
            Filing::Source(unique(sources))
        } else if let Some(types) = pattern.required_strings("detail-type") {
            Filing::DetailType(unique(types))
        } else {
            Filing::Fallback
        };
        let entry = Arc::new(Entry {
            name: name.to_owned(),
            pattern,
        });
        match &filing {
            Filing::Source(keys) => {
                for k in keys {
                    self.by_source
                        .entry(k.clone())
                        .or_default()
                        .push(entry.clone());
                }
            }
            Filing::DetailType(keys) => {
                for k in keys {
                    self.by_detail_type
                        .entry(k.clone())
                        .or_default()
                        .push(entry.clone());
                }
            }
            Filing::Fallback => self.fallback.push(entry),
        }
        self.filed.insert(name.to_owned(), filing);
    }

    /// The rules an event with these `source` and `detail-type` fields could match.
    fn candidates<'a>(&'a self, event: &Value) -> impl Iterator<Item = &'a Arc<Entry>> {
        let lists = |map: &'a HashMap<String, Vec<Arc<Entry>>>, field: &str| {
            let keys: Vec<&str> = match event.get(field) {
                Some(Value::String(s)) => vec![s.as_str()],
                // An array field matches when any element does (pattern semantics).
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let mut found: Vec<&'a Arc<Entry>> = keys
                .into_iter()
                .filter_map(|k| map.get(k))
                .flatten()
                .collect();
            // A rule filed under two values both present in an array field appears twice.
            found.sort_by(|a, b| a.name.cmp(&b.name));
            found.dedup_by(|a, b| a.name == b.name);
            found
        };
        lists(&self.by_source, "source")
            .into_iter()
            .chain(lists(&self.by_detail_type, "detail-type"))
            .chain(self.fallback.iter())
    }
}

impl Index {
    /// Files (or re-files) rule `name` of `bus` under its pattern.
    pub fn insert(&mut self, bus: &str, name: &str, pattern: Pattern) {
        self.buses
            .entry(bus.to_owned())
            .or_default()
            .insert(name, pattern);
    }

    /// Takes rule `name` of `bus` out (disabled, deleted, or no longer a pattern rule).
    pub fn remove(&mut self, bus: &str, name: &str) {
        if let Some(b) = self.buses.get_mut(bus) {
            b.remove(name);
        }
    }

    /// Forgets a bus and its rules.
    pub fn remove_bus(&mut self, bus: &str) {
        self.buses.remove(bus);
    }

    /// The names of `bus`'s rules that match `event`, sorted.
    pub fn matching(&self, bus: &str, event: &Value) -> Vec<String> {
        let Some(b) = self.buses.get(bus) else {
            return Vec::new();
        };
        let mut names: Vec<String> = b
            .candidates(event)
            .filter(|e| e.pattern.matches(event))
            .map(|e| e.name.clone())
            .collect();
        names.sort();
        names
    }

    /// How many rules [`Self::matching`] would try for `event` (tests: the index must
    /// narrow the search).
    pub fn candidate_count(&self, bus: &str, event: &Value) -> usize {
        self.buses
            .get(bus)
            .map_or(0, |b| b.candidates(event).count())
    }

    /// Whether some rule of `bus` could match an event with this source and detail-type
    /// (whatever its other fields): an emitter may skip building events nobody wants.
    pub fn wants(&self, bus: &str, source: &str, detail_type: &str) -> bool {
        self.buses.get(bus).is_some_and(|b| {
            !b.fallback.is_empty()
                || b.by_source.contains_key(source)
                || b.by_detail_type.contains_key(detail_type)
        })
    }
}

#[cfg(test)]
mod tests;
