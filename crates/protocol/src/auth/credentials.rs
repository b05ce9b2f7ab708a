//! Who may call: the access keys `--auth sigv4` accepts, each with its secret and the
//! principal it stands for, plus the temporary keys STS `AssumeRole` hands out.
//!
//! Keys come from a TOML file (`--credentials-file`, re-read on SIGHUP) or from the
//! `--credentials AKID:SECRET[,...]` shorthand, which names principals of the server's
//! own account (`--account-id`). Secrets never reach `Debug` output or logs.
//!
//! ```toml
//! [[credentials]]
//! access_key_id = "AKIAALICE"
//! secret_access_key = "..."
//! account_id = "111111111111"
//! arn = "arn:aws:iam::111111111111:user/alice"   # optional: the account's root
//! user_id = "AIDAALICE"                           # optional: as GetCallerIdentity says
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::Deserialize;

/// The principal an access key stands for, and the secret that proves it.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
    /// `arn:aws:iam::<account>:root`, `...:user/<name>` or `...:assumed-role/<role>/<session>`.
    pub arn: String,
    /// What `GetCallerIdentity` answers as `UserId`.
    pub user_id: String,
    /// For temporary keys: the session token requests must carry, and when the keys
    /// stop working (epoch seconds).
    pub session: Option<Session>,
}

/// What makes temporary keys temporary.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub token: String,
    pub expires_epoch_seconds: u64,
}

impl std::fmt::Debug for Principal {
    /// Names the key and principal only: secrets and tokens never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("arn", &self.arn)
            .finish_non_exhaustive()
    }
}

impl Principal {
    /// The root principal of `account_id` holding `access_key_id`.
    pub fn root(access_key_id: &str, secret: &str, account_id: &str) -> Self {
        Principal {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret.to_owned(),
            account_id: account_id.to_owned(),
            arn: format!("arn:aws:iam::{account_id}:root"),
            user_id: account_id.to_owned(),
            session: None,
        }
    }
}

/// Why a credentials file or `--credentials` value was refused.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the credentials file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the credentials file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("credentials must be AKID:SECRET[,AKID:SECRET...], got an entry without ':'")]
    MissingSeparator,
    #[error("credentials entry {0}: {1}")]
    Invalid(String, String),
    #[error("access key id {0} is given twice")]
    Duplicate(String),
    #[error("no credentials given")]
    None,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    credentials: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    access_key_id: String,
    secret_access_key: String,
    account_id: String,
    arn: Option<String>,
    user_id: Option<String>,
}

/// The long-term keys, by access key id.
type Keys = HashMap<String, Arc<Principal>>;

/// Where the long-term keys come from, so that SIGHUP can read them again.
#[derive(Debug, Clone)]
pub enum KeySource {
    File(PathBuf),
    Inline(String),
}

/// The keys `--auth sigv4` accepts: long-term keys (replaced whole on reload) and
/// temporary ones (kept across reloads until they expire). Cheap to share.
pub struct Credentials {
    source: KeySource,
    account_id: String,
    keys: RwLock<Arc<Keys>>,
    sessions: Mutex<Keys>,
    /// Signing keys already derived, by access key and scope, with the secret they were
    /// derived from: deriving one takes four HMACs, and every request of a key on a day
    /// derives the same.
    derived: Mutex<HashMap<(String, String), Derived>>,
}

/// A derived signing key and the secret it was derived from.
type Derived = (String, Arc<[u8]>);

/// How many derived signing keys are kept before the cache starts over.
const MAX_DERIVED: usize = 4096;

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Reads the keys `source` names; `account_id` is the account of inline keys.
    pub fn load(source: KeySource, account_id: &str) -> Result<Self, CredentialsError> {
        let keys = read_keys(&source, account_id)?;
        Ok(Credentials {
            source,
            account_id: account_id.to_owned(),
            keys: RwLock::new(Arc::new(keys)),
            sessions: Mutex::new(HashMap::new()),
            derived: Mutex::new(HashMap::new()),
        })
    }

    /// Reads the source again, replacing the long-term keys; on error the old ones stay.
    /// The number of keys now accepted.
    pub fn reload(&self) -> Result<usize, CredentialsError> {
        let keys = read_keys(&self.source, &self.account_id)?;
        let n = keys.len();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        Ok(n)
    }

    /// The principal holding `access_key_id`, long-term or temporary (expired ones
    /// included: the caller tells "expired" from "unknown").
    pub fn get(&self, access_key_id: &str) -> Option<Arc<Principal>> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(p) = keys.get(access_key_id) {
            return Some(p.clone());
        }
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.get(access_key_id).cloned()
    }

    /// One long-term key of `account_id` (the one with the smallest access key id):
    /// what the server hands that account's Lambda functions to call it back with.
    pub fn key_of(&self, account_id: &str) -> Option<Principal> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner()).clone();
        keys.values()
            .filter(|p| p.account_id == account_id)
            .min_by(|a, b| a.access_key_id.cmp(&b.access_key_id))
            .map(|p| Principal::clone(p))
    }

    /// The accounts of the long-term keys, each once, in order.
    pub fn accounts(&self) -> Vec<String> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner()).clone();
        let set: std::collections::BTreeSet<String> =
            keys.values().map(|p| p.account_id.clone()).collect();
        set.into_iter().collect()
    }

    /// The signing key `principal`'s secret derives for `claim`'s scope.
    pub fn signing_key(&self, principal: &Principal, claim: &super::signature::Claim) -> Arc<[u8]> {
        let id = (principal.access_key_id.clone(), claim.scope());
        let secret = &principal.secret_access_key;
        let mut derived = self.derived.lock().unwrap_or_else(|e| e.into_inner());
        // A reload may have changed the secret: a key derived from another is not used.
        if let Some((from, key)) = derived.get(&id)
            && from == secret
        {
            return key.clone();
        }
        if derived.len() >= MAX_DERIVED {
            derived.clear();
        }
        let key: Arc<[u8]> = super::signature::signing_key(secret, claim).into();
        derived.insert(id, (secret.clone(), key.clone()));
        key
    }

    /// Accepts the temporary `principal` (it must carry a session) from now on, and
    /// forgets sessions that expired before `now_epoch_seconds`.
    pub fn add_session(&self, principal: Principal, now_epoch_seconds: u64) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, p| {
            p.session
                .as_ref()
                .is_some_and(|s| s.expires_epoch_seconds > now_epoch_seconds)
        });
        sessions.insert(principal.access_key_id.clone(), Arc::new(principal));
    }

    /// Forgets every temporary key (`POST /_sagestack/reset`: the roles they were
    /// issued for are gone); long-term keys stay.
    pub fn forget_sessions(&self) {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

fn read_keys(source: &KeySource, account_id: &str) -> Result<Keys, CredentialsError> {
    let principals = match source {
        KeySource::Inline(raw) => parse_inline(raw, account_id)?,
        KeySource::File(path) => parse_file(path)?,
    };
    let mut keys = Keys::new();
    for p in principals {
        let key = p.access_key_id.clone();
        if keys.insert(key.clone(), Arc::new(p)).is_some() {
            return Err(CredentialsError::Duplicate(key));
        }
    }
    if keys.is_empty() {
        return Err(CredentialsError::None);
    }
    Ok(keys)
}

/// `AKID:SECRET[,AKID:SECRET...]`: root keys of `account_id`. The secret is everything
/// after the first `:` (AWS secrets hold `/` and `+`, never `,`).
pub fn parse_inline(raw: &str, account_id: &str) -> Result<Vec<Principal>, CredentialsError> {
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (akid, secret) = entry
            .split_once(':')
            .ok_or(CredentialsError::MissingSeparator)?;
        check_key(akid, secret, account_id, out.len() + 1)?;
        out.push(Principal::root(akid, secret, account_id));
    }
    Ok(out)
}

fn parse_file(path: &Path) -> Result<Vec<Principal>, CredentialsError> {
    let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: File = toml::from_str(&text).map_err(|e| CredentialsError::Parse {
        path: path.to_owned(),
        // toml's message quotes the offending line, which may hold a secret: keep the
        // first line (what is wrong and where) only.
        message: e.message().lines().next().unwrap_or_default().to_owned(),
    })?;
    let mut out = Vec::new();
    for (i, e) in file.credentials.into_iter().enumerate() {
        check_key(&e.access_key_id, &e.secret_access_key, &e.account_id, i + 1)?;
        let mut p = Principal::root(&e.access_key_id, &e.secret_access_key, &e.account_id);
        if let Some(arn) = e.arn {
            let in_account = arn
                .split(':')
                .nth(4)
                .is_some_and(|account| account == e.account_id);
            if !arn.starts_with("arn:") || !in_account {
                return Err(CredentialsError::Invalid(
                    (i + 1).to_string(),
                    format!("arn {arn} is not an ARN of account {}", e.account_id),
                ));
            }
            p.user_id = e.user_id.clone().unwrap_or_else(|| e.access_key_id.clone());
            p.arn = arn;
        }
        if let Some(user_id) = e.user_id {
            p.user_id = user_id;
        }
        out.push(p);
    }
    Ok(out)
}

/// An access key id of 3 to 128 word characters, a non-empty secret, a 12-digit account.
fn check_key(akid: &str, secret: &str, account: &str, n: usize) -> Result<(), CredentialsError> {
    let bad = |why: String| Err(CredentialsError::Invalid(n.to_string(), why));
    if !(3..=128).contains(&akid.len()) || !akid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return bad(format!(
            "access key id {akid:?} must be 3 to 128 letters and digits"
        ));
    }
    if secret.is_empty() {
        return bad(format!("access key {akid} has an empty secret"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return bad(format!("account id {account:?} must be 12 digits"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_keys_are_root_keys_of_the_server_account() {
        let c = Credentials::load(
            KeySource::Inline("test:test, AKIA2:a/b+c:d".into()),
            "123456789012",
        )
        .unwrap();
        let p = c.get("AKIA2").unwrap();
        assert_eq!(p.secret_access_key, "a/b+c:d");
        assert_eq!(p.arn, "arn:aws:iam::123456789012:root");
        assert_eq!(p.user_id, "123456789012");
        assert!(c.get("nope").is_none());
        assert!(
            !format!("{p:?}").contains("a/b+c"),
            "Debug hides the secret"
        );
    }

    #[test]
    fn bad_inline_values_are_refused() {
        for raw in ["", "nocolon", "k:", "a:b,a:c", "ab!:s"] {
            assert!(
                Credentials::load(KeySource::Inline(raw.into()), "123456789012").is_err(),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_file_names_accounts_and_principals_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.toml");
        std::fs::write(
            &path,
            r#"
[[credentials]]
access_key_id = "AKIAALICE"
secret_access_key = "s1"
account_id = "111111111111"
arn = "arn:aws:iam::111111111111:user/alice"

[[credentials]]
access_key_id = "AKIABOB"
secret_access_key = "s2"
account_id = "222222222222"
"#,
        )
        .unwrap();
        let c = Credentials::load(KeySource::File(path.clone()), "000000000000").unwrap();
        assert_eq!(
            c.get("AKIAALICE").unwrap().arn,
            "arn:aws:iam::111111111111:user/alice"
        );
        assert_eq!(c.get("AKIAALICE").unwrap().user_id, "AKIAALICE");
        assert_eq!(c.get("AKIABOB").unwrap().account_id, "222222222222");
        std::fs::write(&path, "[[credentials]]\naccess_key_id = \"AKIANEW\"\nsecret_access_key = \"s\"\naccount_id = \"333333333333\"\n").unwrap();
        assert_eq!(c.reload().unwrap(), 1);
        assert!(c.get("AKIABOB").is_none() && c.get("AKIANEW").is_some());
        std::fs::write(&path, "secret_access_key = \"leak\" oops").unwrap();
        let err = c.reload().unwrap_err().to_string();
        assert!(!err.contains("leak"), "{err}");
        assert!(c.get("AKIANEW").is_some(), "a bad file keeps the old keys");
        std::fs::write(&path, "[[credentials]]\naccess_key_id = \"AKIAX\"\nsecret_access_key = \"s\"\naccount_id = \"333333333333\"\narn = \"arn:aws:iam::444444444444:root\"\n").unwrap();
        assert!(c.reload().is_err(), "an ARN of another account");
    }

    #[test]
    fn sessions_expire_out_of_the_book() {
        let c = Credentials::load(KeySource::Inline("test:test".into()), "123456789012").unwrap();
        let mut p = Principal::root("ASIA1", "s", "123456789012");
        p.session = Some(Session {
            token: "t".into(),
            expires_epoch_seconds: 100,
        });
        c.add_session(p, 50);
        assert!(c.get("ASIA1").is_some());
        let mut q = Principal::root("ASIA2", "s", "123456789012");
        q.session = Some(Session {
            token: "t".into(),
            expires_epoch_seconds: 300,
        });
        c.add_session(q, 200);
        assert!(c.get("ASIA1").is_none(), "expired sessions are dropped");
        assert!(c.get("ASIA2").is_some());
    }
}
