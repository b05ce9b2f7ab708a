//! Per-request facts that services may need: who is calling, where, and the request id.
//! Built once per request, from its head, before the protocol's framing reads the body.

use http::header::AUTHORIZATION;
use http::request::Parts;

use crate::sigv4;

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

impl RequestContext {
    /// The context of a request answered for `region` and `account_id`: a fresh
    /// request id, and the access key id of the caller's SigV4 `Authorization` header.
    pub fn from_parts(parts: &Parts, region: &str, account_id: &str) -> Self {
        RequestContext {
            access_key_id: parts
                .headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(sigv4::access_key_id)
                .map(str::to_owned),
            ..Self::new(region, account_id)
        }
    }

    /// A context answered for `region` and `account_id` with a fresh request id and no
    /// caller's access key: as is, that of a call made in process (a provider calling
    /// its service's API, a test); [`from_parts`](Self::from_parts) adds the key.
    pub fn new(region: &str, account_id: &str) -> Self {
        RequestContext {
            request_id: new_request_id(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            access_key_id: None,
        }
    }
}

/// A fresh request id, in the UUID form AWS uses for JSON services.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
