//! Pagination tokens: where the previous page ended, opaque to clients.
//!
//! Every listing here is in a total order (group names, stream names, `(last event
//! time, name)`, `(timestamp, sequence)` of events), so a token records the last key
//! returned and the next page starts strictly after it: pages stay correct while
//! groups, streams and events come and go in between, which an offset would not.
//!
//! GetLogEvents' two tokens have AWS's shape, `f/<56 digits>` and `b/<56 digits>`,
//! because clients compare them (an unchanged forward token means "the end"): the
//! digits are the event key `(timestamp, sequence)` of the boundary. Every other token
//! is the key's text in URL-safe base64 behind a tag naming the listing, so a token of
//! one listing is refused by another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{LogsError, invalid};

/// The order of events in a stream and across a group: timestamp, then the sequence
/// number each event gets when it is stored (unique in the process).
pub type EventKey = (i64, u64);

/// The message AWS sends for a token it did not issue.
pub const INVALID_TOKEN: &str = "The specified nextToken is invalid.";

/// A listing's token: `tag` names the listing, `key` is the last key returned.
pub fn encode(tag: &str, key: &str) -> String {
    format!("{tag}{}", URL_SAFE_NO_PAD.encode(key.as_bytes()))
}

/// The key a token of listing `tag` carries.
pub fn decode(tag: &str, token: &str) -> Result<String, LogsError> {
    token
        .strip_prefix(tag)
        .and_then(|rest| URL_SAFE_NO_PAD.decode(rest).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| invalid(INVALID_TOKEN))
}

/// An event key as text that sorts as the key does (`i64` offset to unsigned).
pub fn key_text(key: EventKey) -> String {
    format!("{:020}{:020}", (key.0 as u64) ^ (1 << 63), key.1)
}

/// The event key [`key_text`] wrote.
pub fn parse_key(text: &str) -> Result<EventKey, LogsError> {
    let bad = || invalid(INVALID_TOKEN);
    if text.len() != 40 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let ts: u64 = text[..20].parse().map_err(|_| bad())?;
    let seq: u64 = text[20..].parse().map_err(|_| bad())?;
    Ok(((ts ^ (1 << 63)) as i64, seq))
}

/// Which way a GetLogEvents token reads the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Events at or after the boundary, oldest first.
    Forward,
    /// Events before the boundary, the newest of them.
    Backward,
}

/// A GetLogEvents token: `f/` or `b/` and 56 digits (16 zeros, then the key).
pub fn stream_token(direction: Direction, boundary: EventKey) -> String {
    let d = match direction {
        Direction::Forward => 'f',
        Direction::Backward => 'b',
    };
    format!("{d}/{:016}{}", 0, key_text(boundary))
}

/// The direction and boundary of a [`stream_token`].
pub fn parse_stream_token(token: &str) -> Result<(Direction, EventKey), LogsError> {
    let (direction, digits) = if let Some(rest) = token.strip_prefix("f/") {
        (Direction::Forward, rest)
    } else if let Some(rest) = token.strip_prefix("b/") {
        (Direction::Backward, rest)
    } else {
        return Err(invalid(INVALID_TOKEN));
    };
    match digits.len().checked_sub(40) {
        Some(16) if digits.is_char_boundary(16) && digits[..16].bytes().all(|b| b == b'0') => {
            Ok((direction, parse_key(&digits[16..])?))
        }
        _ => Err(invalid(INVALID_TOKEN)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_tokens_round_trip_and_are_tied_to_their_listing() {
        let t = encode("g1_", "/aws/lambda/f");
        assert_eq!(decode("g1_", &t).unwrap(), "/aws/lambda/f");
        assert_eq!(decode("s1_", &t).unwrap_err().to_string(), INVALID_TOKEN);
        assert!(decode("g1_", "g1_***").is_err());
        assert!(decode("g1_", "garbage").is_err());
    }

    #[test]
    fn event_keys_sort_as_text_and_round_trip() {
        let keys = [
            (-5, 1),
            (0, 0),
            (0, 7),
            (1_700_000_000_000, 3),
            (i64::MAX, u64::MAX),
        ];
        for w in keys.windows(2) {
            assert!(key_text(w[0]) < key_text(w[1]), "{w:?}");
        }
        for k in keys {
            assert_eq!(parse_key(&key_text(k)).unwrap(), k);
        }
        assert!(parse_key("12").is_err());
    }

    #[test]
    fn stream_tokens_have_aws_s_shape() {
        let f = stream_token(Direction::Forward, (1_700_000_000_000, 42));
        assert!(f.starts_with("f/"));
        assert_eq!(f.len(), 58);
        assert!(f[2..].bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(
            parse_stream_token(&f).unwrap(),
            (Direction::Forward, (1_700_000_000_000, 42))
        );
        let b = stream_token(Direction::Backward, (3, 4));
        assert_eq!(
            parse_stream_token(&b).unwrap(),
            (Direction::Backward, (3, 4))
        );
        for bad in ["x/1", "f/", "f/12", &format!("f/1{}", &f[3..])] {
            assert!(parse_stream_token(bad).is_err(), "{bad}");
        }
    }
}
