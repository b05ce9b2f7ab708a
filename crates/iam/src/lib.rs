//! sagestack-iam: the IAM state sagestack keeps, for now roles created by stacks, and the
//! native `AWS::IAM::Role` provider that creates them ([`RoleProvider`]).
//!
//! There is no IAM API on the wire yet: roles are state that other services and later
//! the IAM Query API read through [`sagestack_store::RoleStore`]. When the API comes it
//! is added here, in the same shape as the other service modules.
//!
//! Architecture invariant: no HTTP and no SQL here.

pub mod role;

pub use role::{RoleProvider, TYPE_NAME, generated_role_name, new_role_id};
