//! `NextToken`s: opaque, and bound to the listing they continue.
//!
//! A token carries the position of the next page and a check over the operation's list
//! name, the arguments that choose the listing (`StackName`, `ExportName`) and that
//! position. A token edited by hand, or handed to another listing, fails the check and
//! is refused as AWS refuses a token it did not issue (`ValidationError: Invalid
//! NextToken`). The check is a hash, not a keyed signature, so every replica sharing a
//! database accepts the tokens of the others; a position is no secret (it only says
//! where a listing of one's own account resumes).

use sagestack_protocol::auth::signature::sha256_hex;

use super::{ApiError, Result};

/// Hex digits of the check a token carries.
const CHECK_HEX: usize = 24;

fn check(scope: &str, position: u64) -> String {
    let mut digest = sha256_hex(format!("sagestack-next-token\0{scope}\0{position}").as_bytes());
    digest.truncate(CHECK_HEX);
    digest
}

/// The token that resumes the listing `scope` at `position`.
pub(super) fn seal(scope: &str, position: u64) -> String {
    format!("{}{position:016x}", check(scope, position))
}

/// The position `token` resumes the listing `scope` at, if it was issued for it.
pub(super) fn open(scope: &str, token: &str) -> Result<u64> {
    let invalid = || ApiError::validation("Invalid NextToken");
    if token.len() != CHECK_HEX + 16 || !token.is_ascii() {
        return Err(invalid());
    }
    let (given, position) = token.split_at(CHECK_HEX);
    let position = u64::from_str_radix(position, 16).map_err(|_| invalid())?;
    if given != check(scope, position) {
        return Err(invalid());
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_resume_only_their_own_listing() {
        let t = seal("Stacks\0a", 100);
        assert_eq!(open("Stacks\0a", &t).unwrap(), 100);
        assert!(open("Stacks\0b", &t).is_err(), "another stack's listing");
        assert!(open("Exports\0", &t).is_err(), "another operation");
        let edited = format!("{}{:016x}", &t[..CHECK_HEX], 5);
        assert!(open("Stacks\0a", &edited).is_err(), "an edited position");
        for junk in ["", "x", "100", &"0".repeat(40)] {
            assert!(open("Stacks\0a", junk).is_err(), "{junk}");
        }
    }
}
