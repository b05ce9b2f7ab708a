//! A parameter's tags: `AddTagsToResource`, `RemoveTagsFromResource` and
//! `ListTagsForResource` for `ResourceType` `Parameter` (the resource id is the
//! parameter's name).
//!
//! Tags belong to the parameter, not to a version: they live in the latest version's
//! document, are carried to each new version by `PutParameter`, and are changed in place
//! ([`sagestack_store::ParameterStore::replace_parameter_document`]) without making a
//! version. A put racing a tag change makes the change start again on the new version.
//!
//! sagestack keeps no other taggable SSM resource (documents, maintenance windows, ...),
//! so an id of any other resource type is one that does not exist.

use serde::Deserialize;

use crate::error::SsmError;
use crate::parameters::{Parameters, Result, StoredParameter, Tag, parse};

/// Tags a parameter may have (AWS's limit).
pub const MAX_TAGS: usize = 50;
/// How many times a tag change starts again when puts keep making new versions.
const ATTEMPTS: usize = 8;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResourceInput {
    pub(crate) resource_type: String,
    pub(crate) resource_id: String,
    pub(crate) tags: Option<Vec<Tag>>,
    pub(crate) tag_keys: Option<Vec<String>>,
}

fn check_type(resource_type: &str) -> Result<()> {
    if resource_type == "Parameter" {
        Ok(())
    } else {
        Err(SsmError::InvalidResourceId)
    }
}

impl Parameters {
    /// The parameter's tags, in the order they were added.
    pub async fn tags(&self, resource_type: &str, name: &str) -> Result<Vec<Tag>> {
        check_type(resource_type)?;
        match self.store.get_parameter(name, None).await? {
            Some(r) => Ok(parse(&r)?.tags),
            None => Err(SsmError::InvalidResourceId),
        }
    }

    /// Adds tags, replacing the values of keys the parameter already has.
    pub async fn add_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> Result<()> {
        check_type(resource_type)?;
        self.change_tags(name, |current| {
            for t in tags {
                match current.iter_mut().find(|c| c.key == t.key) {
                    Some(c) => c.value.clone_from(&t.value),
                    None => current.push(t.clone()),
                }
            }
            if current.len() > MAX_TAGS {
                return Err(SsmError::TooManyTags);
            }
            Ok(())
        })
        .await
    }

    /// Removes the tags with these keys (keys it does not have are ignored).
    pub async fn remove_tags(
        &self,
        resource_type: &str,
        name: &str,
        keys: &[String],
    ) -> Result<()> {
        check_type(resource_type)?;
        self.change_tags(name, |current| {
            current.retain(|t| !keys.contains(&t.key));
            Ok(())
        })
        .await
    }

    /// Replaces every tag of the parameter with `tags` (the native provider's update).
    pub async fn replace_tags(&self, name: &str, tags: &[Tag]) -> Result<()> {
        if tags.len() > MAX_TAGS {
            return Err(SsmError::TooManyTags);
        }
        self.change_tags(name, |current| {
            *current = tags.to_vec();
            Ok(())
        })
        .await
    }

    async fn change_tags(
        &self,
        name: &str,
        change: impl Fn(&mut Vec<Tag>) -> Result<()>,
    ) -> Result<()> {
        for _ in 0..ATTEMPTS {
            let Some(record) = self.store.get_parameter(name, None).await? else {
                return Err(SsmError::InvalidResourceId);
            };
            let mut p: StoredParameter = parse(&record)?;
            change(&mut p.tags)?;
            let document = serde_json::to_string(&p).expect("serializable");
            if self
                .store
                .replace_parameter_document(name, record.version, &document)
                .await?
            {
                return Ok(());
            }
        }
        Err(SsmError::TooManyUpdates)
    }
}
