//! IAM's rules for roles over the role store: creating, reading, listing, changing and
//! deleting roles, their inline and attached policies and their tags. The same store
//! records the `AWS::IAM::Role` provider writes, in the same layout
//! ([`crate::document`]): a role a stack made is a role of this API, and one made here
//! is one a stack's `Fn::GetAtt` or STS's `AssumeRole` can name.
//!
//! Every change of a role is a read-modify-write by compare-and-swap ([`modify`]): the
//! new document is written only if the stored one is still the one it was computed
//! from, else the change is computed again from what is stored now. Two requests (or
//! two replicas on PostgreSQL) changing one role never lose either change.

use std::sync::Arc;

use sagestack_engine::{Clock, partition_for_region};
use sagestack_store::{RoleRecord, RoleStore, StoreError};

use crate::document::{RoleDocument, Tag};
use crate::validate::{self, PolicyKind};
use crate::{IamError, new_role_id};

/// How many times a change is computed again when another writer got in first.
const ATTEMPTS: usize = 32;
/// Roles read from the store at a time while a listing filters by path.
const SCAN: usize = 200;

/// Why a read-modify-write of a role did not happen.
#[derive(Debug)]
pub enum Modify<E> {
    /// There is no such role.
    Missing,
    /// The change refused itself.
    Rejected(E),
    Store(StoreError),
    /// Other writers kept changing the role ([`ATTEMPTS`] times).
    Contended,
}

/// Applies `change` to the role `name`'s document and stores the result if nobody
/// changed the role meanwhile; otherwise reads it again and recomputes. A change that
/// leaves the document as it was writes nothing.
pub async fn modify<T, E>(
    store: &dyn RoleStore,
    name: &str,
    mut change: impl FnMut(&RoleRecord, &mut RoleDocument) -> Result<T, E>,
) -> Result<(RoleRecord, T), Modify<E>> {
    for _ in 0..ATTEMPTS {
        let Some(mut record) = store.get_role(name).await.map_err(Modify::Store)? else {
            return Err(Modify::Missing);
        };
        let mut doc = RoleDocument::of(&record);
        let before = doc.clone();
        let out = change(&record, &mut doc).map_err(Modify::Rejected)?;
        if doc == before {
            return Ok((record, out));
        }
        let expected = std::mem::replace(&mut record.document, Arc::from(doc.text()));
        match store.replace_role_if(&record, &expected).await {
            Ok(true) => return Ok((record, out)),
            Ok(false) => continue,
            Err(StoreError::NotFound) => return Err(Modify::Missing),
            Err(e) => return Err(Modify::Store(e)),
        }
    }
    Err(Modify::Contended)
}

/// CreateRole's input (validated against the model already).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRole {
    pub name: String,
    /// `/` when absent.
    pub path: Option<String>,
    pub assume_role_policy: String,
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
    pub max_signin_session_duration: Option<i64>,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Tag>,
}

/// UpdateRole's input: only what is given changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleUpdate {
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
    pub max_signin_session_duration: Option<i64>,
    pub reset_max_signin_session_duration: bool,
}

/// One page of a listing and the marker of the next (`None`: the last page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub marker: Option<String>,
}

/// Page `marker` (an offset this API handed out) of at most `max` of `items`.
pub fn page<T>(items: Vec<T>, marker: Option<&str>, max: usize) -> Result<Page<T>, IamError> {
    let start = match marker {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| IamError::InvalidInput(format!("Invalid Marker: {m}")))?,
    };
    let rest: Vec<T> = items.into_iter().skip(start).collect();
    let more = rest.len() > max;
    Ok(Page {
        items: rest.into_iter().take(max).collect(),
        marker: more.then(|| (start + max).to_string()),
    })
}

/// The roles of one account.
pub struct Roles {
    store: Arc<dyn RoleStore>,
    clock: Arc<dyn Clock>,
    account_id: String,
    partition: &'static str,
}

fn no_such_policy(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role policy with name {name} cannot be found."))
}

impl Roles {
    pub fn new(
        store: Arc<dyn RoleStore>,
        clock: Arc<dyn Clock>,
        account_id: &str,
        region: &str,
    ) -> Self {
        Roles {
            store,
            clock,
            account_id: account_id.to_owned(),
            partition: partition_for_region(region),
        }
    }

    /// [`modify`] with IAM's errors.
    async fn change<T>(
        &self,
        name: &str,
        change: impl FnMut(&RoleRecord, &mut RoleDocument) -> Result<T, IamError>,
    ) -> Result<(RoleRecord, T), IamError> {
        modify(&*self.store, name, change)
            .await
            .map_err(|e| match e {
                Modify::Missing => IamError::no_such_role(name),
                Modify::Rejected(e) => e,
                Modify::Store(e) => e.into(),
                Modify::Contended => IamError::ConcurrentModification(format!(
                    "The role {name} is being changed by other requests: try again."
                )),
            })
    }

    /// A trust policy, checked: grammar, then its size quota.
    fn trust_policy(text: &str) -> Result<(), IamError> {
        validate::policy_document(text, PolicyKind::Trust)?;
        if validate::policy_size(text) > validate::MAX_TRUST_POLICY {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for ACLSizePerRole: {}",
                validate::MAX_TRUST_POLICY
            )));
        }
        Ok(())
    }

    /// A managed policy that can be attached here, or used as a permissions boundary:
    /// a well-formed ARN of this partition naming an AWS managed policy. Those cannot
    /// be known here, so any name is accepted; customer managed policies cannot be
    /// created yet, so one of any account does not exist.
    fn attachable(&self, arn: &str, missing: impl FnOnce() -> IamError) -> Result<(), IamError> {
        let parsed = validate::policy_arn(arn)?;
        if parsed.partition != self.partition {
            return Err(IamError::InvalidInput(format!("ARN {arn} is not valid.")));
        }
        if parsed.account != "aws" {
            return Err(missing());
        }
        Ok(())
    }

    fn boundary(&self, arn: &str) -> Result<(), IamError> {
        self.attachable(arn, || {
            IamError::InvalidInput(format!(
                "Scope ARN: {arn} does not exist or is not attachable."
            ))
        })
    }

    pub async fn create(&self, input: NewRole) -> Result<RoleRecord, IamError> {
        Self::trust_policy(&input.assume_role_policy)?;
        validate::distinct_tag_keys(&input.tags)?;
        if let Some(b) = &input.permissions_boundary {
            self.boundary(b)?;
        }
        let path = input.path.as_deref().unwrap_or("/");
        let id = new_role_id();
        let arn = format!(
            "arn:{}:iam::{}:role{path}{}",
            self.partition, self.account_id, input.name
        );
        let micros = self.clock.now() * 1000;
        let mut doc = RoleDocument::new(&input.name, &id, &arn, path, micros);
        doc.set_assume_role_policy(&input.assume_role_policy);
        if let Some(d) = &input.description {
            doc.set_description(d);
        }
        if let Some(s) = input.max_session_duration {
            doc.set_max_session_duration(s);
        }
        doc.set_max_signin_session_duration(input.max_signin_session_duration);
        doc.set_permissions_boundary(input.permissions_boundary.as_deref());
        doc.set_tags(&input.tags);
        let record = RoleRecord {
            name: input.name.clone(),
            role_id: id,
            arn,
            creation_micros: micros,
            document: Arc::from(doc.text()),
        };
        match self.store.create_role(&record).await {
            Ok(()) => Ok(record),
            Err(StoreError::AlreadyExists) => Err(IamError::EntityAlreadyExists(format!(
                "Role with name {} already exists.",
                input.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, name: &str) -> Result<RoleRecord, IamError> {
        self.store
            .get_role(name)
            .await?
            .ok_or_else(|| IamError::no_such_role(name))
    }

    /// Roles whose path starts with `path_prefix`, by lowercased name; the marker is
    /// the last lowercased name listed.
    pub async fn list(
        &self,
        path_prefix: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<Page<RoleRecord>, IamError> {
        let mut after = marker.map(str::to_ascii_lowercase);
        let mut found = Vec::new();
        'scan: loop {
            let batch = self.store.list_roles(after.as_deref(), SCAN).await?;
            let done = batch.len() < SCAN;
            for role in batch {
                after = Some(role.name.to_ascii_lowercase());
                if RoleDocument::of(&role).path().starts_with(path_prefix) {
                    found.push(role);
                    if found.len() > max {
                        break 'scan;
                    }
                }
            }
            if done {
                break;
            }
        }
        let more = found.len() > max;
        found.truncate(max);
        Ok(Page {
            marker: more
                .then(|| found.last().map(|r| r.name.to_ascii_lowercase()))
                .flatten(),
            items: found,
        })
    }

    pub async fn update(&self, name: &str, update: RoleUpdate) -> Result<RoleRecord, IamError> {
        let (record, ()) = self
            .change(name, |_, doc| {
                if let Some(d) = &update.description {
                    doc.set_description(d);
                }
                if let Some(s) = update.max_session_duration {
                    doc.set_max_session_duration(s);
                }
                if update.reset_max_signin_session_duration {
                    doc.set_max_signin_session_duration(None);
                } else if let Some(s) = update.max_signin_session_duration {
                    doc.set_max_signin_session_duration(Some(s));
                }
                Ok(())
            })
            .await?;
        Ok(record)
    }

    pub async fn update_assume_role_policy(&self, name: &str, text: &str) -> Result<(), IamError> {
        Self::trust_policy(text)?;
        self.change(name, |_, doc| {
            doc.set_assume_role_policy(text);
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn put_permissions_boundary(&self, name: &str, arn: &str) -> Result<(), IamError> {
        self.boundary(arn)?;
        self.change(name, |_, doc| {
            doc.set_permissions_boundary(Some(arn));
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn delete_permissions_boundary(&self, name: &str) -> Result<(), IamError> {
        self.change(name, |_, doc| {
            doc.set_permissions_boundary(None);
            Ok(())
        })
        .await
        .map(drop)
    }

    /// Deletes a role that has no inline or attached policies left (as IAM, which
    /// answers `DeleteConflict` otherwise); the check and the delete are one
    /// compare-and-swap, so a policy put meanwhile keeps the role.
    pub async fn delete(&self, name: &str) -> Result<(), IamError> {
        for _ in 0..ATTEMPTS {
            let role = self.get(name).await?;
            let doc = RoleDocument::of(&role);
            if !doc.policies().is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            if !doc.managed_policy_arns().is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must detach all policies first.".into(),
                ));
            }
            match self.store.delete_role_if(name, &role.document).await {
                Ok(true) => return Ok(()),
                Ok(false) => continue,
                Err(StoreError::NotFound) => return Err(IamError::no_such_role(name)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(IamError::ConcurrentModification(format!(
            "The role {name} is being changed by other requests: try again."
        )))
    }

    /// Merges `tags` into the role's: a key already there (ignoring case) takes the
    /// new key and value in its place.
    pub async fn tag(&self, name: &str, tags: &[Tag]) -> Result<(), IamError> {
        validate::distinct_tag_keys(tags)?;
        self.change(name, |_, doc| {
            let mut all = doc.tags();
            for t in tags {
                match all.iter_mut().find(|u| u.key.eq_ignore_ascii_case(&t.key)) {
                    Some(existing) => *existing = t.clone(),
                    None => all.push(t.clone()),
                }
            }
            if all.len() > validate::MAX_TAGS {
                return Err(IamError::LimitExceeded(
                    "The number of tags has reached the maximum limit.".into(),
                ));
            }
            doc.set_tags(&all);
            Ok(())
        })
        .await
        .map(drop)
    }

    /// Removes the tags with these keys (ignoring case); absent keys are no error.
    pub async fn untag(&self, name: &str, keys: &[String]) -> Result<(), IamError> {
        self.change(name, |_, doc| {
            let mut all = doc.tags();
            all.retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
            doc.set_tags(&all);
            Ok(())
        })
        .await
        .map(drop)
    }

    /// Adds or replaces an inline policy, within the role's aggregate size quota.
    pub async fn put_policy(&self, name: &str, policy: &str, text: &str) -> Result<(), IamError> {
        validate::policy_document(text, PolicyKind::Identity)?;
        self.change(name, |role, doc| {
            doc.put_policy(policy, text);
            let total: usize = doc
                .policies()
                .iter()
                .map(|(_, t)| validate::policy_size(t))
                .sum();
            if total > validate::MAX_INLINE_POLICIES {
                return Err(IamError::LimitExceeded(format!(
                    "Maximum policy size of {} bytes exceeded for role {}",
                    validate::MAX_INLINE_POLICIES,
                    role.name
                )));
            }
            Ok(())
        })
        .await
        .map(drop)
    }

    /// The text of an inline policy as it was put.
    pub async fn get_policy(
        &self,
        name: &str,
        policy: &str,
    ) -> Result<(RoleRecord, String), IamError> {
        let role = self.get(name).await?;
        let text = RoleDocument::of(&role)
            .policy(policy)
            .ok_or_else(|| no_such_policy(policy))?;
        Ok((role, text))
    }

    pub async fn delete_policy(&self, name: &str, policy: &str) -> Result<(), IamError> {
        self.change(name, |_, doc| {
            if doc.delete_policy(policy) {
                Ok(())
            } else {
                Err(no_such_policy(policy))
            }
        })
        .await
        .map(drop)
    }

    /// Attaches a managed policy (again: no change), within the `PoliciesPerRole` quota.
    pub async fn attach(&self, name: &str, arn: &str) -> Result<(), IamError> {
        self.attachable(arn, || {
            IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
        })?;
        self.change(name, |_, doc| {
            if doc.attach(arn) && doc.managed_policy_arns().len() > validate::MAX_ATTACHED {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for PoliciesPerRole: {}",
                    validate::MAX_ATTACHED
                )));
            }
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn detach(&self, name: &str, arn: &str) -> Result<(), IamError> {
        validate::policy_arn(arn)?;
        self.change(name, |_, doc| {
            if doc.detach(arn) {
                Ok(())
            } else {
                Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} was not found."
                )))
            }
        })
        .await
        .map(drop)
    }
}
