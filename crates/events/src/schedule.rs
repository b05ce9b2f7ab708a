//! `ScheduleExpression`s: `rate(value unit)` and EventBridge's six-field
//! `cron(minutes hours day-of-month month day-of-week year)`, in UTC, with its
//! wildcards (`* ? , - /`, `L`, `W`, `#`). Parsed once at `PutRule`
//! ([`Schedule::parse`]); [`Schedule::next_after`] gives the next firing time. Pure: the
//! caller supplies the clock's reading, so tests run on a fake clock.
//!
//! A rate schedule's first firing is one period after the rule was created or enabled
//! (AWS starts counting then, too); a cron schedule fires at each matching minute.

use chrono::{Datelike, NaiveDate, Timelike};

use crate::EventsError;

const MINUTE_MS: i64 = 60_000;
const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2199;
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every this many milliseconds.
    Rate(i64),
    Cron(Box<Cron>),
}

/// A cron expression, each field as the set of values it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    day: Day,
    months: u64,
    /// Bit `y - 1970`.
    years: Vec<bool>,
}

/// Days are chosen by day of month or by day of week (the other field is `?`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Day {
    /// Bits 1..=31.
    OfMonth(u64),
    /// `L`: the month's last day.
    LastOfMonth,
    /// `LW`: the month's last weekday.
    LastWeekdayOfMonth,
    /// `nW`: the weekday nearest the n-th, within the month.
    NearestWeekday(u32),
    /// Bits 1..=7, 1 = Sunday.
    OfWeek(u64),
    /// `nL`: the month's last such weekday (1 = Sunday).
    LastOfWeek(u32),
    /// `d#n`: the n-th such weekday of the month.
    NthOfWeek(u32, u32),
}

fn invalid() -> EventsError {
    EventsError::Validation("Parameter ScheduleExpression is not valid.".into())
}

impl Schedule {
    /// Reads `rate(...)` or `cron(...)`; anything else is AWS's
    /// "Parameter ScheduleExpression is not valid."
    pub fn parse(expression: &str) -> Result<Schedule, EventsError> {
        let expression = expression.trim();
        if let Some(body) = expression
            .strip_prefix("rate(")
            .and_then(|b| b.strip_suffix(')'))
        {
            return parse_rate(body);
        }
        if let Some(body) = expression
            .strip_prefix("cron(")
            .and_then(|b| b.strip_suffix(')'))
        {
            return Cron::parse(body).map(|c| Schedule::Cron(Box::new(c)));
        }
        Err(invalid())
    }

    /// The first firing strictly after `after` (ms since the epoch): for a rate, one
    /// period after `after` (the last firing, or when the rule started); for a cron, the
    /// next matching minute. `None` when a cron's years are all past.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        match self {
            Schedule::Rate(period) => after.checked_add(*period),
            Schedule::Cron(cron) => cron.next_after(after),
        }
    }
}

fn parse_rate(body: &str) -> Result<Schedule, EventsError> {
    let mut parts = body.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let value: i64 = match value.parse() {
        Ok(v) if v > 0 && !value.starts_with('+') => v,
        _ => return Err(invalid()),
    };
    // AWS wants the singular for 1 and the plural otherwise.
    let unit_ms = match (unit, value == 1) {
        ("minute", true) | ("minutes", false) => MINUTE_MS,
        ("hour", true) | ("hours", false) => 60 * MINUTE_MS,
        ("day", true) | ("days", false) => 24 * 60 * MINUTE_MS,
        _ => return Err(invalid()),
    };
    value
        .checked_mul(unit_ms)
        .map(Schedule::Rate)
        .ok_or_else(invalid)
}

impl Cron {
    fn parse(body: &str) -> Result<Cron, EventsError> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        let [minutes, hours, dom, months, dow, years] = fields[..] else {
            return Err(invalid());
        };
        // Exactly one of day-of-month and day-of-week is `?`.
        let day = match (dom, dow) {
            ("?", "?") => return Err(invalid()),
            (dom, "?") => parse_day_of_month(dom)?,
            ("?", dow) => parse_day_of_week(dow)?,
            _ => return Err(invalid()),
        };
        let year_bits = bits(years, FIRST_YEAR as u32, LAST_YEAR as u32, &[])?;
        Ok(Cron {
            minutes: bits(minutes, 0, 59, &[])?.into_iter().fold(0, set),
            hours: bits(hours, 0, 23, &[])?.into_iter().fold(0, set),
            day,
            months: bits(months, 1, 12, &MONTHS)?.into_iter().fold(0, set),
            years: (FIRST_YEAR as u32..=LAST_YEAR as u32)
                .map(|y| year_bits.contains(&y))
                .collect(),
        })
    }

    fn next_after(&self, after: i64) -> Option<i64> {
        let start = (after.div_euclid(MINUTE_MS) + 1) * MINUTE_MS;
        let start = chrono::DateTime::from_timestamp_millis(start)?.naive_utc();
        let mut date = start.date();
        let mut from = (start.hour(), start.minute());
        while date.year() <= LAST_YEAR {
            if self.date_matches(date)
                && let Some((h, m)) = self.first_time_from(from)
            {
                let at = date.and_hms_opt(h, m, 0)?.and_utc();
                return Some(at.timestamp_millis());
            }
            date = date.succ_opt()?;
            from = (0, 0);
        }
        None
    }

    /// The first allowed (hour, minute) at or after `from` within a day.
    fn first_time_from(&self, (hour, minute): (u32, u32)) -> Option<(u32, u32)> {
        (hour..24).filter(|h| has(self.hours, *h)).find_map(|h| {
            let first = if h == hour { minute } else { 0 };
            (first..60).find(|m| has(self.minutes, *m)).map(|m| (h, m))
        })
    }

    fn date_matches(&self, date: NaiveDate) -> bool {
        let year_ok = usize::try_from(date.year() - FIRST_YEAR)
            .ok()
            .and_then(|i| self.years.get(i))
            .copied()
            .unwrap_or(false);
        if !year_ok || !has(self.months, date.month()) {
            return false;
        }
        let last = last_day_of_month(date);
        let weekday = date.weekday().num_days_from_sunday() + 1;
        match self.day {
            Day::OfMonth(days) => has(days, date.day()),
            Day::LastOfMonth => date.day() == last,
            Day::LastWeekdayOfMonth => date.day() == nearest_weekday(date, last),
            Day::NearestWeekday(n) => date.day() == nearest_weekday(date, n.min(last)),
            Day::OfWeek(days) => has(days, weekday),
            Day::LastOfWeek(d) => weekday == d && date.day() + 7 > last,
            Day::NthOfWeek(d, n) => weekday == d && (date.day() - 1) / 7 + 1 == n,
        }
    }
}

fn set(acc: u64, bit: u32) -> u64 {
    acc | (1 << bit)
}

fn has(bits: u64, value: u32) -> bool {
    bits & (1 << value) != 0
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    let (y, m) = (date.year(), date.month());
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    next.and_then(|d| d.pred_opt()).map_or(28, |d| d.day())
}

/// The weekday nearest day `n` of `date`'s month, never leaving the month (Quartz's
/// rule, which EventBridge documents by example).
fn nearest_weekday(date: NaiveDate, n: u32) -> u32 {
    let Some(target) = date.with_day(n) else {
        return 0;
    };
    let last = last_day_of_month(date);
    match target.weekday().num_days_from_sunday() {
        0 if n == last => n - 2,
        0 => n + 1,
        6 if n == 1 => 3,
        6 => n - 1,
        _ => n,
    }
}

fn parse_day_of_month(field: &str) -> Result<Day, EventsError> {
    match field {
        "L" => return Ok(Day::LastOfMonth),
        "LW" => return Ok(Day::LastWeekdayOfMonth),
        _ => {}
    }
    if let Some(n) = field.strip_suffix('W') {
        return match n.parse::<u32>() {
            Ok(n @ 1..=31) => Ok(Day::NearestWeekday(n)),
            _ => Err(invalid()),
        };
    }
    Ok(Day::OfMonth(
        bits(field, 1, 31, &[])?.into_iter().fold(0, set),
    ))
}

fn parse_day_of_week(field: &str) -> Result<Day, EventsError> {
    let day = |text: &str| single(text, 1, 7, &DAYS);
    if field == "L" {
        return Ok(Day::LastOfWeek(7));
    }
    if let Some(d) = field.strip_suffix('L') {
        return Ok(Day::LastOfWeek(day(d)?));
    }
    if let Some((d, n)) = field.split_once('#') {
        return match n.parse::<u32>() {
            Ok(n @ 1..=5) => Ok(Day::NthOfWeek(day(d)?, n)),
            _ => Err(invalid()),
        };
    }
    Ok(Day::OfWeek(
        bits(field, 1, 7, &DAYS)?.into_iter().fold(0, set),
    ))
}

/// The values a list field allows: items `*`, `a`, `a-b`, each optionally `/step`.
/// `names` spell the values from `lo` on (months, days of week).
fn bits(field: &str, lo: u32, hi: u32, names: &[&str]) -> Result<Vec<u32>, EventsError> {
    let mut out = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => match s.parse::<u32>() {
                Ok(s) if s > 0 => (r, s),
                _ => return Err(invalid()),
            },
            None => (item, 1),
        };
        let (from, to) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (single(a, lo, hi, names)?, single(b, lo, hi, names)?),
                // `a/step` runs from a to the field's end.
                None if item.contains('/') => (single(r, lo, hi, names)?, hi),
                None => {
                    let v = single(r, lo, hi, names)?;
                    (v, v)
                }
            },
        };
        if from > to {
            return Err(invalid());
        }
        out.extend((from..=to).step_by(step as usize));
    }
    Ok(out)
}

fn single(text: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u32, EventsError> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(lo + i as u32);
    }
    match text.parse::<u32>() {
        Ok(v) if (lo..=hi).contains(&v) && text.bytes().all(|b| b.is_ascii_digit()) => Ok(v),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests;
