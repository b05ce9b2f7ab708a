//! Attributes that other resources change.
//!
//! Some resource types exist only to change another resource: an `AWS::EC2::VPCCidrBlock`
//! adds a CIDR block to its VPC, so the VPC's `Ipv6CidrBlocks` (or
//! `CidrBlockAssociations`) grows after the VPC was created. Templates read the grown
//! list (`!Select [0, !GetAtt VPC.Ipv6CidrBlocks]` in a subnet that `DependsOn` the CIDR
//! block), so a `Fn::GetAtt` of such an attribute is the target's recorded list plus the
//! contribution of every live amending resource of the same stack that names the
//! target. Which types amend what is the providers' knowledge ([`TypeInfo::amends`]);
//! the engine only applies it. Amending resources in other stacks (a CIDR block added
//! to an imported VPC) are not seen: a stack's lookups read only its own resources.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::ResourceRecord;
use crate::provider::{ProviderRegistry, TypeInfo};

/// One way a type's resources add to another resource's list attribute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amend {
    /// The amending resource's property that holds the target's physical id (`VpcId`).
    pub target_property: String,
    /// The target's type (`AWS::EC2::VPC`).
    pub target_type: String,
    /// The target's list attribute that grows (`Ipv6CidrBlocks`).
    pub attribute: String,
    /// The amending resource's attribute holding what it adds; a resource without it
    /// adds nothing (an IPv4 block adds no IPv6 block).
    pub value_attribute: String,
}

/// The amendments of the types one stack uses, gathered once per operation.
#[derive(Debug, Default)]
pub(crate) struct Amends(Vec<(String, Amend)>);

impl Amends {
    /// What the types of `types` amend, from each type's facts in `providers`.
    pub fn of_types<'a>(
        providers: &ProviderRegistry,
        types: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut seen = std::collections::HashSet::new();
        let mut all = Vec::new();
        for type_name in types {
            if !seen.insert(type_name) {
                continue;
            }
            let amends = providers
                .type_info(type_name)
                .map(|TypeInfo { amends, .. }| amends)
                .unwrap_or_default();
            all.extend(amends.into_iter().map(|a| (type_name.to_string(), a)));
        }
        Amends(all)
    }

    /// `value` (the `attribute` of `target` as recorded) with what the live resources of
    /// `records` that amend it add, in logical-id order. Only resources `active` keeps
    /// count: an update's removed resources still live until its cleanup, but the
    /// template being applied no longer has them.
    pub fn apply(
        &self,
        records: &BTreeMap<String, ResourceRecord>,
        active: impl Fn(&str) -> bool,
        target: &ResourceRecord,
        attribute: &str,
        value: Value,
    ) -> Value {
        let Some(physical_id) = &target.physical_id else {
            return value;
        };
        let mut list = match value {
            Value::Array(list) => list,
            other => return other,
        };
        for (amender_type, amend) in &self.0 {
            if amend.target_type != target.resource_type || amend.attribute != attribute {
                continue;
            }
            let added = records.values().filter(|r| {
                r.resource_type == *amender_type
                    && !r.status.is_gone()
                    && r.physical_id.is_some()
                    && active(&r.logical_id)
                    && r.properties
                        .get(&amend.target_property)
                        .and_then(Value::as_str)
                        == Some(physical_id.as_str())
            });
            list.extend(added.filter_map(|r| r.attributes.get(&amend.value_attribute).cloned()));
        }
        Value::Array(list)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
