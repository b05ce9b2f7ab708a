//! sagestack-iam: IAM roles. The state sagestack keeps for them, the IAM Query API that
//! serves them, and the native `AWS::IAM::Role` provider that stacks create them with.
//!
//! * Roles made by the API and by stacks are the same store records in one document
//!   layout ([`document`]): a stack's role is listed and read by the API (its inline
//!   `Policies` and `ManagedPolicyArns` included), and a role made by the API is one
//!   STS's `AssumeRole` can assume.
//! * Every change of a role is a compare-and-swap on its document ([`state::modify`]),
//!   so concurrent requests, and replicas sharing PostgreSQL, lose no change.
//! * AWS managed policies (`arn:aws:iam::aws:policy/...`) cannot be known here: any
//!   well-formed one can be attached. Customer managed policies cannot be created yet,
//!   so attaching one is `NoSuchEntity`. Instance profiles are not kept.
//! * Policies are checked as documents (JSON, statements, the elements a trust or an
//!   identity policy needs and forbids) but never evaluated: there is no policy engine.
//!
//! Layout, as every service here: [`state`] (the rules), [`validate`] (AWS's input
//! constraints and wording), [`api`] (the Query operations), [`error`] (codes and
//! statuses), [`role`] (the CloudFormation provider).
//!
//! Architecture invariant: no HTTP and no SQL here (the wire framing is
//! sagestack-protocol's, the SQL sagestack-store's).

pub mod api;
pub mod document;
pub mod error;
pub mod role;
pub mod state;
pub mod validate;

pub use api::IamApi;
pub use document::{RoleDocument, Tag};
pub use error::IamError;
pub use role::{RoleProvider, TYPE_NAME, generated_role_name, new_role_id};
pub use state::{NewRole, Roles};
