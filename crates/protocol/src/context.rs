//! Per-request facts that services may need: who is calling, where, and the request id.
//! Built once per request, from its head, before the protocol's framing reads the body.

use crate::auth::Caller;

/// What a service knows about the request it is handling, beyond its input.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The id sent back in `x-amzn-RequestId`.
    pub request_id: String,
    /// The region this server answers for (`--region`).
    pub region: String,
    /// The caller's account: the verified key's under `--auth sigv4`, the server's
    /// (`--account-id`) otherwise.
    pub account_id: String,
    /// Who is calling (verified under `--auth sigv4`, claimed under `none`); `None` for
    /// a call made in process (a provider calling its service's API, a test).
    pub caller: Option<Caller>,
}

impl RequestContext {
    /// A context answered for `region` and `account_id` with a fresh request id and no
    /// caller: as is, that of a call made in process.
    pub fn new(region: &str, account_id: &str) -> Self {
        RequestContext {
            request_id: new_request_id(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            caller: None,
        }
    }

    /// The caller's ARN: a call made in process acts as the root of its account.
    pub fn caller_arn(&self) -> String {
        match &self.caller {
            Some(c) => c.arn.clone(),
            None => Caller::root("", &self.account_id).arn,
        }
    }

    /// The same request, made by `caller` (whose account it acts in).
    pub fn with_caller(mut self, caller: Caller) -> Self {
        self.account_id.clone_from(&caller.account_id);
        self.caller = Some(caller);
        self
    }
}

/// A fresh request id, in the UUID form AWS uses for JSON services.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_process_calls_act_as_the_account_root() {
        let ctx = RequestContext::new("us-east-1", "123456789012");
        assert_eq!(ctx.caller_arn(), "arn:aws:iam::123456789012:root");
        let mut alice = Caller::root("AKIA", "210987654321");
        alice.arn = "arn:aws:iam::210987654321:user/alice".into();
        assert_eq!(
            ctx.with_caller(alice).caller_arn(),
            "arn:aws:iam::210987654321:user/alice"
        );
    }
}
