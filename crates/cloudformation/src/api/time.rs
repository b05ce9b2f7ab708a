//! Timestamps as the Query protocol prints them: ISO 8601 UTC with milliseconds
//! (`2026-11-24T19:57:01.123Z`).

/// Formats milliseconds since the Unix epoch (the engine's one formatter).
pub use sagestack_engine::iso8601_millis as iso8601;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_795_550_221_123), "2026-11-24T19:57:01.123Z");
        assert_eq!(iso8601(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
    }
}
