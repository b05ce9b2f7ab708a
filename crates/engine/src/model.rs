//! The engine's records: stack, resource, event, change set and export, and the status
//! enums they carry. These are exactly what a [`crate::store::StackStore`] persists, so
//! every type here is plain serde data. Status names are CloudFormation's own
//! (`CREATE_IN_PROGRESS`, ...), both in `Display` and in serde, so the protocol layer can
//! print them verbatim.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::plan::{Policy, ResolvedOutput};

/// Milliseconds since the Unix epoch, as produced by a [`crate::clock::Clock`].
pub type EpochMillis = i64;

/// Declares a status enum whose serde form and `Display` are the AWS spelling.
macro_rules! aws_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses the AWS spelling.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

aws_enum!(
    /// A stack's `StackStatus`.
    StackStatus {
        CreateInProgress => "CREATE_IN_PROGRESS",
        CreateFailed => "CREATE_FAILED",
        CreateComplete => "CREATE_COMPLETE",
        RollbackInProgress => "ROLLBACK_IN_PROGRESS",
        RollbackFailed => "ROLLBACK_FAILED",
        RollbackComplete => "ROLLBACK_COMPLETE",
        DeleteInProgress => "DELETE_IN_PROGRESS",
        DeleteFailed => "DELETE_FAILED",
        DeleteComplete => "DELETE_COMPLETE",
        UpdateInProgress => "UPDATE_IN_PROGRESS",
        UpdateCompleteCleanupInProgress => "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        UpdateComplete => "UPDATE_COMPLETE",
        UpdateRollbackInProgress => "UPDATE_ROLLBACK_IN_PROGRESS",
        UpdateRollbackFailed => "UPDATE_ROLLBACK_FAILED",
        UpdateRollbackCompleteCleanupInProgress => "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        UpdateRollbackComplete => "UPDATE_ROLLBACK_COMPLETE",
        ReviewInProgress => "REVIEW_IN_PROGRESS",
    }
);

impl StackStatus {
    /// Whether an operation is driving the stack right now. `REVIEW_IN_PROGRESS` is not:
    /// it is a stack waiting for its first change set to be executed.
    pub fn is_operation_in_progress(self) -> bool {
        self.as_str().ends_with("_IN_PROGRESS") && self != StackStatus::ReviewInProgress
    }

    /// States from which `UpdateStack` / an UPDATE change set is accepted.
    pub fn is_updatable(self) -> bool {
        matches!(
            self,
            StackStatus::CreateComplete
                | StackStatus::UpdateComplete
                | StackStatus::UpdateRollbackComplete
        )
    }
}

aws_enum!(
    /// A resource's `ResourceStatus`.
    ResourceStatus {
        CreateInProgress => "CREATE_IN_PROGRESS",
        CreateFailed => "CREATE_FAILED",
        CreateComplete => "CREATE_COMPLETE",
        DeleteInProgress => "DELETE_IN_PROGRESS",
        DeleteFailed => "DELETE_FAILED",
        DeleteComplete => "DELETE_COMPLETE",
        DeleteSkipped => "DELETE_SKIPPED",
        UpdateInProgress => "UPDATE_IN_PROGRESS",
        UpdateFailed => "UPDATE_FAILED",
        UpdateComplete => "UPDATE_COMPLETE",
    }
);

impl ChangeSetStatus {
    /// The change set's creation has not ended.
    pub fn is_creating(self) -> bool {
        matches!(
            self,
            ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress
        )
    }
}

impl ResourceStatus {
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            ResourceStatus::CreateInProgress
                | ResourceStatus::UpdateInProgress
                | ResourceStatus::DeleteInProgress
        )
    }

    /// The resource is no longer part of the stack (deleted or retained out of it).
    pub fn is_gone(self) -> bool {
        matches!(
            self,
            ResourceStatus::DeleteComplete | ResourceStatus::DeleteSkipped
        )
    }
}

aws_enum!(
    /// A change set's `Status`.
    ChangeSetStatus {
        CreatePending => "CREATE_PENDING",
        CreateInProgress => "CREATE_IN_PROGRESS",
        CreateComplete => "CREATE_COMPLETE",
        DeletePending => "DELETE_PENDING",
        DeleteInProgress => "DELETE_IN_PROGRESS",
        DeleteComplete => "DELETE_COMPLETE",
        DeleteFailed => "DELETE_FAILED",
        Failed => "FAILED",
    }
);

aws_enum!(
    /// A change set's `ExecutionStatus`.
    ExecutionStatus {
        Unavailable => "UNAVAILABLE",
        Available => "AVAILABLE",
        ExecuteInProgress => "EXECUTE_IN_PROGRESS",
        ExecuteComplete => "EXECUTE_COMPLETE",
        ExecuteFailed => "EXECUTE_FAILED",
        Obsolete => "OBSOLETE",
    }
);

aws_enum!(
    /// `ChangeSetType`.
    ChangeSetType {
        Create => "CREATE",
        Update => "UPDATE",
    }
);

aws_enum!(
    /// `ResourceChange.Action`.
    ChangeAction {
        Add => "Add",
        Modify => "Modify",
        Remove => "Remove",
    }
);

aws_enum!(
    /// `ResourceChange.Replacement`.
    Replacement {
        True => "True",
        False => "False",
        Conditional => "Conditional",
    }
);

aws_enum!(
    /// `ResourceTargetDefinition.RequiresRecreation`.
    RequiresRecreation {
        Never => "Never",
        Conditionally => "Conditionally",
        Always => "Always",
    }
);

aws_enum!(
    /// `ResourceChangeDetail.Evaluation`.
    Evaluation {
        Static => "Static",
        Dynamic => "Dynamic",
    }
);

aws_enum!(
    /// `ResourceChangeDetail.ChangeSource`.
    ChangeSource {
        ResourceReference => "ResourceReference",
        ParameterReference => "ParameterReference",
        ResourceAttribute => "ResourceAttribute",
        DirectModification => "DirectModification",
        Automatic => "Automatic",
    }
);

/// What a stack was built from: enough to rebuild its plan after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TemplateSource {
    pub body: String,
    /// Raw parameter values (not masked); the plan masks `NoEcho` ones for display.
    pub parameters: BTreeMap<String, String>,
}

/// One stack. Deleted stacks stay (status `DELETE_COMPLETE`) so they can be described by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackRecord {
    /// The stack ARN.
    pub stack_id: String,
    pub stack_name: String,
    pub status: StackStatus,
    pub status_reason: Option<String>,
    pub creation_time: EpochMillis,
    pub last_updated_time: Option<EpochMillis>,
    pub deletion_time: Option<EpochMillis>,
    pub description: Option<String>,
    /// The template the stack is at (during an update: the one being applied; during an
    /// update rollback: the one being restored).
    pub template: TemplateSource,
    /// During an update and its cleanup: the template before the update. During an update
    /// rollback and its cleanup: the template that failed. `None` otherwise.
    pub previous_template: Option<TemplateSource>,
    /// Parameters as `DescribeStacks` shows them (`NoEcho` masked).
    pub displayed_parameters: BTreeMap<String, String>,
    /// What the SSM-typed parameters resolved to (`ResolvedValue`), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolved_parameters: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// During an update that changes the stack's tags: the tags before it (during its
    /// rollback: the tags that failed, as `previous_template`). `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_tags: Option<Vec<(String, String)>>,
    /// `RoleARN` given on create or a later update (absent in records written before it
    /// existed, hence the default).
    #[serde(default)]
    pub role_arn: Option<String>,
    pub notification_arns: Vec<String>,
    pub disable_rollback: bool,
    pub outputs: Vec<ResolvedOutput>,
    /// Export names this stack imports with `Fn::ImportValue` (from the current template).
    pub imports: Vec<String>,
    /// The change set whose execution is (or last was) driving the stack.
    pub change_set_id: Option<String>,
    /// Logical ids a `DeleteStack` retry asked to retain (kept so a restart honours them).
    pub retain_resources: Vec<String>,
    /// Bumped by every write of the record. An operation is admitted with a
    /// compare-and-set on the revision it read ([`crate::StackStore::put_stack_if`]),
    /// so of two racing `UpdateStack`s only one starts, even when the first one has
    /// already finished and the status reads the same again. Records written before it
    /// existed read as 0.
    #[serde(default)]
    pub revision: u64,
    /// For a nested stack: its parent and root (`ParentId`, `RootId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nesting: Option<Nesting>,
    /// Its stack policy and termination protection.
    #[serde(default, skip_serializing_if = "Protection::is_none")]
    pub protection: Protection,
    /// Drift detection results (`None` until the first check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Box<crate::drift::StackDrift>>,
}

impl StackRecord {
    /// A record of nothing but its id, name, status and creation time (every other
    /// member empty): where a new stack's record starts.
    pub fn new(
        stack_id: String,
        stack_name: String,
        status: StackStatus,
        creation_time: EpochMillis,
    ) -> Self {
        StackRecord {
            stack_id,
            stack_name,
            status,
            status_reason: None,
            creation_time,
            last_updated_time: None,
            deletion_time: None,
            description: None,
            template: TemplateSource::default(),
            previous_template: None,
            displayed_parameters: BTreeMap::new(),
            resolved_parameters: BTreeMap::new(),
            capabilities: Vec::new(),
            tags: Vec::new(),
            previous_tags: None,
            role_arn: None,
            notification_arns: Vec::new(),
            disable_rollback: false,
            outputs: Vec::new(),
            imports: Vec::new(),
            change_set_id: None,
            retain_resources: Vec::new(),
            revision: 0,
            nesting: None,
            protection: Protection::default(),
            drift: None,
        }
    }
}

/// Where a nested stack sits in its tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nesting {
    /// The stack whose `AWS::CloudFormation::Stack` resource this stack is.
    pub parent_id: String,
    /// The top of the tree.
    pub root_id: String,
}

/// What protects a stack (see `crate::policy` and `Stacks::delete_stack`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protection {
    /// The stack policy (a JSON document; `None`: every update action is allowed).
    #[serde(default)]
    pub stack_policy: Option<String>,
    /// The policy the running update was given for its own duration
    /// (`StackPolicyDuringUpdateBody`), in place of `stack_policy`.
    #[serde(default)]
    pub update_policy: Option<String>,
    /// `EnableTerminationProtection`: `DeleteStack` is refused while set.
    #[serde(default)]
    pub termination_protection: bool,
}

impl Protection {
    fn is_none(&self) -> bool {
        *self == Protection::default()
    }
}

/// A physical resource as it was before an update touched it, kept until the update (or
/// its rollback) is cleaned up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysicalSnapshot {
    pub physical_id: String,
    /// Shared with the record it was taken from (see [`ResourceRecord::attributes`]).
    pub attributes: Arc<Map<String, Value>>,
    pub properties: Arc<Value>,
    pub deletion_policy: Policy,
    pub update_replace_policy: Policy,
}

/// What an update found before touching a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Prior {
    /// The update added this resource: rolling back deletes it.
    Added,
    /// The resource existed: rolling back restores this.
    Existing(PhysicalSnapshot),
}

/// One resource of a stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    pub stack_id: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: ResourceStatus,
    pub status_reason: Option<String>,
    pub last_updated: EpochMillis,
    /// `None` until a provider created it (and for creations that failed).
    pub physical_id: Option<String>,
    /// Shared, as `properties` is: a record is copied at every step of an operation (the
    /// phase hands one out, keeps one, and the store is given one), and these two are
    /// the deep part of it; they are replaced whole, not edited.
    pub attributes: Arc<Map<String, Value>>,
    /// The resolved properties last applied, or being applied while `*_IN_PROGRESS`.
    pub properties: Arc<Value>,
    pub deletion_policy: Policy,
    pub update_replace_policy: Policy,
    /// Set while an update (or its rollback) has touched this resource.
    pub prior: Option<Prior>,
    /// Physical resources of this logical id to delete in the next cleanup phase
    /// (replacements made by an update that was rolled back).
    pub cleanup: Vec<PhysicalSnapshot>,
}

/// One stack event (`DescribeStackEvents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackEvent {
    /// Position in the stack's event stream, starting at 1; later events have larger numbers.
    pub seq: u64,
    pub event_id: String,
    pub stack_id: String,
    pub stack_name: String,
    /// The stack name for stack events.
    pub logical_resource_id: String,
    /// The stack id for stack events.
    pub physical_resource_id: Option<String>,
    pub resource_type: String,
    pub timestamp: EpochMillis,
    /// A [`StackStatus`] or [`ResourceStatus`] spelling.
    pub resource_status: String,
    pub resource_status_reason: Option<String>,
    /// The resolved properties as a JSON string, on resource progress events.
    pub resource_properties: Option<String>,
}

impl StackEvent {
    /// The reason a stack's own event gives for the stack as a whole (such as
    /// `ROLLBACK_IN_PROGRESS`'s "No export named X found"): `None` for a resource's event
    /// and for the routine "User Initiated".
    pub fn stack_reason(&self) -> Option<&str> {
        (self.logical_resource_id == self.stack_name)
            .then_some(self.resource_status_reason.as_deref())
            .flatten()
            .filter(|r| !r.is_empty() && *r != "User Initiated")
    }
}

/// `ResourceTargetDefinition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeTarget {
    /// Always `Properties` for now.
    pub attribute: String,
    pub name: Option<String>,
    pub requires_recreation: RequiresRecreation,
}

/// `ResourceChangeDetail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChangeDetail {
    pub target: ChangeTarget,
    pub evaluation: Evaluation,
    pub change_source: ChangeSource,
    /// E.g. `MyBucket` or `MyBucket.Arn` when the change comes from another resource.
    pub causing_entity: Option<String>,
}

/// `ResourceChange`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub action: ChangeAction,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
    pub resource_type: String,
    /// Only for `Modify`.
    pub replacement: Option<Replacement>,
    /// `["Properties"]` for `Modify`, empty otherwise.
    pub scope: Vec<String>,
    pub details: Vec<ResourceChangeDetail>,
    /// The resource's properties before and after the change, for `DescribeChangeSet`
    /// with `IncludePropertyValues` (absent in change sets recorded before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<ChangeValues>,
}

/// What `DescribeChangeSet` with `IncludePropertyValues` shows of one resource change:
/// its properties before (`BeforeContext`; `None` for an added resource) and after
/// (`AfterContext`; `None` for a removed one), from which each detail's `BeforeValue` and
/// `AfterValue` are read. A value known only once the change runs (a reference to a
/// resource the change adds or replaces) reads [`KNOWN_AFTER_APPLY`], as on AWS; secret
/// values (`NoEcho` parameters and custom resource data) are masked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeValues {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// What CloudFormation shows for a value a change set cannot know before it runs.
pub const KNOWN_AFTER_APPLY: &str = "{{changeSet:KNOWN_AFTER_APPLY}}";

/// A change set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeSetRecord {
    pub change_set_id: String,
    pub change_set_name: String,
    pub stack_id: String,
    pub stack_name: String,
    pub change_set_type: ChangeSetType,
    pub status: ChangeSetStatus,
    pub status_reason: Option<String>,
    pub execution_status: ExecutionStatus,
    pub creation_time: EpochMillis,
    pub description: Option<String>,
    pub template: TemplateSource,
    pub displayed_parameters: BTreeMap<String, String>,
    /// What the SSM-typed parameters resolved to (`ResolvedValue`), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolved_parameters: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// `RoleARN` given to `CreateChangeSet`, applied to the stack on execution.
    #[serde(default)]
    pub role_arn: Option<String>,
    pub notification_arns: Vec<String>,
    pub changes: Vec<ResourceChange>,
}

/// One export (`ListExports`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub name: String,
    pub value: String,
    pub exporting_stack_id: String,
}
