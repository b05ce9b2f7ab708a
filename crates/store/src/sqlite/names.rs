//! What the embedded store keeps in memory of the tables whose writes check existence
//! first (see [`Names`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The keys of the tables whose writes check existence first (IAM role names, S3 bucket
/// names, SSM parameter names with their latest version, which reads of the parameter are
/// also served from), in memory: a create or delete
/// inside a stack operation then needs no read, so it can be queued behind
/// ([`SqliteStore::submit`]) like the operation's own steps. Every write of these tables
/// holds the name's [`SqliteStore::name_lock`] across its check, its write and its update
/// here, so the sets stay what the tables hold.
pub(crate) struct Names {
    /// Lowercased role names.
    pub roles: HashSet<String>,
    pub buckets: HashSet<String>,
    /// Buckets known to hold no object and no upload: made by this process and never
    /// given one since (every write adding one takes the bucket's content lock and
    /// removes the name first). Deleting one of these needs no read of the object tables;
    /// any other bucket is checked with a read, as after a restart (the set starts empty).
    pub empty_buckets: HashSet<String>,
    /// Every parameter's latest version, served from here (an SSM parameter is small, and
    /// an overwrite reads the current version first).
    pub parameters: HashMap<String, LatestParameter>,
}

/// A parameter's latest version as [`Names`] keeps it.
pub(crate) struct LatestParameter {
    pub version: i64,
    pub document: Arc<str>,
    /// The queue position of its last write (0 once known committed): a read of an older
    /// version from the tables waits for that write only.
    pub position: u64,
}
