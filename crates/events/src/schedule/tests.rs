use super::*;

/// Milliseconds of a UTC time.
fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

fn next(expr: &str, after: i64) -> Option<i64> {
    Schedule::parse(expr).unwrap().next_after(after)
}

/// Each `(expression, after, when it fires next)`, the expression named on failure.
fn assert_fires(cases: &[(&str, i64, Option<i64>)]) {
    for &(expr, after, want) in cases {
        assert_eq!(next(expr, after), want, "{expr} after {after}");
    }
}

#[test]
fn rates_take_singular_for_one_and_plural_otherwise() {
    for (expr, ms) in [
        ("rate(1 minute)", 60_000),
        ("rate(5 minutes)", 300_000),
        ("rate(2 hours)", 7_200_000),
        ("rate(1 day)", 86_400_000),
    ] {
        assert_eq!(Schedule::parse(expr).unwrap(), Schedule::Rate(ms), "{expr}");
    }
    for bad in [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(-1 minutes)",
        "rate(1 second)",
        "rate(minutes)",
        "rate(1.5 hours)",
        "rate(5 minutes",
        "every 5 minutes",
        "rate(+2 hours)",
        "",
    ] {
        let err = Schedule::parse(bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Parameter ScheduleExpression is not valid.",
            "{bad}"
        );
    }
    assert_eq!(next("rate(5 minutes)", 1_000), Some(301_000));
}

#[test]
fn cron_fires_at_the_next_matching_minute() {
    let noon = at(2026, 12, 6, 12, 0);
    assert_fires(&[
        // Every 15 minutes.
        ("cron(0/15 * * * ? *)", noon, Some(at(2026, 12, 6, 12, 15))),
        (
            "cron(0/15 * * * ? *)",
            noon + 1,
            Some(at(2026, 12, 6, 12, 15)),
        ),
        ("cron(0/15 * * * ? *)", noon - 1, Some(noon)),
        // 10:15 every day: tomorrow, since today's has passed.
        ("cron(15 10 * * ? *)", noon, Some(at(2026, 12, 7, 10, 15))),
        // 18:00 Monday to Friday: 2026-12-06 is a Sunday.
        (
            "cron(0 18 ? * MON-FRI *)",
            noon,
            Some(at(2026, 12, 7, 18, 0)),
        ),
        // First day of every month at 08:00.
        ("cron(0 8 1 * ? *)", noon, Some(at(2027, 1, 1, 8, 0))),
        // Month and day names, lists, ranges with steps.
        (
            "cron(0 0 ? JAN,JUL SUN *)",
            noon,
            Some(at(2027, 1, 3, 0, 0)),
        ),
        (
            "cron(30 9-17/4 * * ? *)",
            noon,
            Some(at(2026, 12, 6, 13, 30)),
        ),
    ]);
}

#[test]
fn cron_special_days() {
    let start = at(2026, 12, 6, 12, 0);
    assert_fires(&[
        // Last day of the month.
        ("cron(0 0 L * ? *)", start, Some(at(2026, 12, 31, 0, 0))),
        // Last weekday of February 2027 (the 28th is a Sunday).
        ("cron(0 0 LW 2 ? 2027)", start, Some(at(2027, 2, 26, 0, 0))),
        // Weekday nearest the 13th: 2026-12-13 is a Sunday, so Monday the 14th.
        ("cron(0 0 13W * ? *)", start, Some(at(2026, 12, 14, 0, 0))),
        // Nearest weekday to the 1st when the 1st is a Saturday (2027-05-01): Monday the 3rd.
        ("cron(0 0 1W 5 ? 2027)", start, Some(at(2027, 5, 3, 0, 0))),
        // The last Friday of the month.
        ("cron(0 0 ? * 6L *)", start, Some(at(2026, 12, 25, 0, 0))),
        // The second Tuesday.
        ("cron(0 0 ? * 3#2 *)", start, Some(at(2026, 12, 8, 0, 0))),
        // A year range in the past never fires.
        ("cron(0 0 * * ? 1999-2000)", start, None),
    ]);
}

#[test]
fn invalid_cron_expressions_are_refused() {
    for bad in [
        "cron(* * * * * *)",     // neither day field is ?
        "cron(* * ? * ? *)",     // both are
        "cron(0 12 * * ?)",      // five fields
        "cron(60 * * * ? *)",    // minute out of range
        "cron(0 24 * * ? *)",    // hour out of range
        "cron(0 0 32 * ? *)",    // day out of range
        "cron(0 0 ? * 8 *)",     // weekday out of range
        "cron(0 0 ? * MON#6 *)", // no sixth Monday
        "cron(0 0 * 13 ? *)",    // month out of range
        "cron(0 0 * * ? 2200)",  // year out of range
        "cron(0 0/0 * * ? *)",   // zero step
        "cron(5-1 * * * ? *)",   // backwards range
        "cron(a * * * ? *)",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad}");
    }
}
