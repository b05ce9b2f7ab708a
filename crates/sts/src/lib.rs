//! sagestack-sts: the two STS operations tools start with, on the server's port.
//!
//! * `GetCallerIdentity`: the account, ARN and user id of the caller the credentials
//!   policy found (the first call of the SageMaker Python SDK, Terraform and many
//!   scripts).
//! * `AssumeRole`: temporary keys (`ASIA...`, a secret, a session token, an expiry) for
//!   a role of the caller's account that exists here (made by a stack's
//!   `AWS::IAM::Role`). Under `--auth sigv4` the keys are added to the credentials the
//!   server accepts until they expire; under `none` any keys work anyway. Trust and
//!   session policies are not evaluated (there is no IAM policy engine here): a role of
//!   the caller's own account can be assumed by any of its principals.
//!
//! Layout, as every service here: [`state`] (the rules: who may assume what, for how
//! long), [`validate`] (AWS's input constraints and wording), [`api`] (the Query
//! operations), [`error`] (codes and statuses).

pub mod api;
pub mod error;
pub mod state;
pub mod validate;

pub use api::StsApi;
pub use error::StsError;
pub use state::{AssumeRole, Issued, Sessions};
