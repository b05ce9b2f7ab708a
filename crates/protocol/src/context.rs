//! Per-request facts that services may need: who is calling, where, and the request id.

/// What a service knows about the request it is handling, beyond its input.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The id sent back in `x-amzn-RequestId`.
    pub request_id: String,
    /// The region this server answers for (`--region`).
    pub region: String,
    /// The account this server answers for (`--account-id`).
    pub account_id: String,
    /// The access key id of the SigV4 credential the caller presented, if any.
    /// Signatures are NOT verified: this is an identity claim, used only to fill
    /// fields such as `CreatedBy`.
    pub access_key_id: Option<String>,
}

/// A fresh request id, in the UUID form AWS uses for JSON services.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
