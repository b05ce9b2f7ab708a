//! The IAM Query API (`Version=2010-05-08`) for roles: decoding, the operations over
//! [`Roles`], and their XML results (element names from the botocore model).
//!
//! Every request is first typed and checked against the model ([`validate::input`]),
//! so the operations below read members that are present when required and within
//! their constraints.

mod xml;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_protocol::query::{CallResult, QueryError, QueryService, Xml};
use sagestack_protocol::{AwsError, RequestContext};
use serde_json::Value;

use crate::document::{RoleDocument, Tag};
use crate::state::{NewRole, RoleUpdate, Roles, page};
use crate::validate::{self, MODEL};
use crate::{IamError, validate::policy_name_of};

pub const VERSION: &str = "2010-05-08";
pub const XML_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// `MaxItems` when the request gives none (IAM's default).
pub const DEFAULT_MAX_ITEMS: usize = 100;

/// IAM over the account's [`Roles`].
pub struct IamApi {
    roles: Arc<Roles>,
}

/// A request's members, typed by the model.
struct Params<'a>(&'a Value);

impl Params<'_> {
    fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }
    /// A member the model requires (checked before the operation runs).
    fn required(&self, name: &str) -> &str {
        self.text(name).unwrap_or_default()
    }
    fn int(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(Value::as_i64)
    }
    fn flag(&self, name: &str) -> bool {
        self.0.get(name).and_then(Value::as_bool).unwrap_or(false)
    }
    fn max_items(&self) -> usize {
        self.int("MaxItems")
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DEFAULT_MAX_ITEMS)
    }
    fn marker(&self) -> Option<&str> {
        self.text("Marker")
    }
    fn strings(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
    fn tags(&self) -> Vec<Tag> {
        match self.0.get("Tags") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|t| Tag {
                    key: t
                        .get("Key")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    value: t
                        .get("Value")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

type Result<T> = std::result::Result<T, IamError>;

impl IamApi {
    pub fn new(roles: Arc<Roles>) -> Self {
        IamApi { roles }
    }

    /// Runs one action on its (already checked) members.
    async fn run(&self, action: &str, p: &Params<'_>) -> Result<Option<Xml>> {
        let roles = &self.roles;
        let role = || p.required("RoleName");
        let wrapped =
            |r: &sagestack_store::RoleRecord| Some(Xml::new().element("Role", xml::role(r, false)));
        Ok(match action {
            "CreateRole" => wrapped(&roles.create(new_role(p)).await?),
            "GetRole" => wrapped(&roles.get(role()).await?),
            "ListRoles" => {
                let prefix = p.text("PathPrefix").unwrap_or("/");
                let page = roles.list(prefix, p.marker(), p.max_items()).await?;
                let items = page.items.iter().map(|r| xml::role(r, true));
                Some(xml::paged(Xml::new().list("Roles", items), page.marker))
            }
            "UpdateRole" => {
                let update = RoleUpdate {
                    description: p.text("Description").map(str::to_owned),
                    max_session_duration: p.int("MaxSessionDuration"),
                    max_signin_session_duration: p.int("MaxSigninSessionDuration"),
                    reset_max_signin_session_duration: p.flag("ResetMaxSigninSessionDuration"),
                };
                roles.update(role(), update).await?;
                Some(Xml::new())
            }
            "UpdateRoleDescription" => {
                let update = RoleUpdate {
                    description: Some(p.required("Description").to_owned()),
                    ..RoleUpdate::default()
                };
                wrapped(&roles.update(role(), update).await?)
            }
            "UpdateAssumeRolePolicy" => {
                let text = p.required("PolicyDocument");
                roles.update_assume_role_policy(role(), text).await?;
                None
            }
            "DeleteRole" => roles.delete(role()).await.map(|()| None)?,
            "PutRolePermissionsBoundary" => {
                let arn = p.required("PermissionsBoundary");
                roles.put_permissions_boundary(role(), arn).await?;
                None
            }
            "DeleteRolePermissionsBoundary" => {
                roles.delete_permissions_boundary(role()).await?;
                None
            }
            "TagRole" => roles.tag(role(), &p.tags()).await.map(|()| None)?,
            "UntagRole" => {
                let keys = p.strings("TagKeys");
                roles.untag(role(), &keys).await.map(|()| None)?
            }
            "ListRoleTags" => {
                let tags = RoleDocument::of(&roles.get(role()).await?).tags();
                let page = page(tags, p.marker(), p.max_items())?;
                let items = page.items.iter().map(xml::tag);
                Some(xml::paged(Xml::new().list("Tags", items), page.marker))
            }
            "PutRolePolicy" => {
                let (name, text) = (p.required("PolicyName"), p.required("PolicyDocument"));
                roles.put_policy(role(), name, text).await?;
                None
            }
            "GetRolePolicy" => {
                let name = p.required("PolicyName");
                let (record, text) = roles.get_policy(role(), name).await?;
                Some(
                    Xml::new()
                        .text("RoleName", &record.name)
                        .text("PolicyName", name)
                        .text("PolicyDocument", xml::url_encode(&text)),
                )
            }
            "DeleteRolePolicy" => {
                roles
                    .delete_policy(role(), p.required("PolicyName"))
                    .await?;
                None
            }
            "ListRolePolicies" => {
                let doc = RoleDocument::of(&roles.get(role()).await?);
                let names: Vec<String> = doc.policies().into_iter().map(|(n, _)| n).collect();
                let page = page(names, p.marker(), p.max_items())?;
                Some(xml::paged(
                    Xml::new().text_list("PolicyNames", page.items),
                    page.marker,
                ))
            }
            "AttachRolePolicy" => {
                roles.attach(role(), p.required("PolicyArn")).await?;
                None
            }
            "DetachRolePolicy" => {
                roles.detach(role(), p.required("PolicyArn")).await?;
                None
            }
            "ListAttachedRolePolicies" => {
                let doc = RoleDocument::of(&roles.get(role()).await?);
                let prefix = p.text("PathPrefix").unwrap_or("/");
                let arns: Vec<String> = doc
                    .managed_policy_arns()
                    .into_iter()
                    .filter(|arn| {
                        validate::policy_arn(arn).is_ok_and(|a| a.path.starts_with(prefix))
                    })
                    .collect();
                let page = page(arns, p.marker(), p.max_items())?;
                let items = page.items.iter().map(|arn| {
                    Xml::new()
                        .text("PolicyName", policy_name_of(arn))
                        .text("PolicyArn", arn)
                });
                Some(xml::paged(
                    Xml::new().list("AttachedPolicies", items),
                    page.marker,
                ))
            }
            "ListInstanceProfilesForRole" => {
                // No instance profiles are kept: the role's list is empty.
                roles.get(role()).await?;
                Some(xml::paged(
                    Xml::new().list("InstanceProfiles", Vec::new()),
                    None,
                ))
            }
            _ => unreachable!("every operation of the model is served"),
        })
    }
}

fn new_role(p: &Params<'_>) -> NewRole {
    NewRole {
        name: p.required("RoleName").to_owned(),
        path: p.text("Path").map(str::to_owned),
        assume_role_policy: p.required("AssumeRolePolicyDocument").to_owned(),
        description: p.text("Description").map(str::to_owned),
        max_session_duration: p.int("MaxSessionDuration"),
        max_signin_session_duration: p.int("MaxSigninSessionDuration"),
        permissions_boundary: p.text("PermissionsBoundary").map(str::to_owned),
        tags: p.tags(),
    }
}

#[async_trait]
impl QueryService for IamApi {
    fn version(&self) -> &'static str {
        VERSION
    }

    fn xml_namespace(&self) -> &'static str {
        XML_NAMESPACE
    }

    async fn call(&self, _: &RequestContext, action: &str, mut params: Value) -> CallResult {
        if !MODEL.has_operation(action) {
            return Err(Box::new(QueryError::InvalidAction {
                action: action.to_owned(),
                version: VERSION.to_owned(),
            }));
        }
        let result = match validate::input(action, &mut params) {
            Ok(()) => self.run(action, &Params(&params)).await,
            Err(e) => Err(e),
        };
        result.map_err(|e| Box::new(e) as Box<dyn AwsError>)
    }
}
