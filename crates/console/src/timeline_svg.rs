//! Draws a [`Timeline`] as server-rendered SVG: a time axis, a strip showing how many
//! operations ran at once, the stack's phases as vertical rules, and one row per bar
//! (coloured by outcome, rollbacks hatched, the critical path outlined, the first
//! failure marked with its reason). No script: the picture is in the page as sent, so
//! it prints, loads fast at 500 resources and reads without JavaScript. Each bar has a
//! `<title>` (its tooltip, and what screen readers say); the page also offers the same
//! data as a table.

use std::fmt::Write as _;

use maud::{Markup, html};

use crate::layout::{duration, raw, time};
use crate::timeline::{Operation, Outcome, Timeline};

const LABEL_W: f64 = 260.0;
const CHART_W: f64 = 900.0;
const ROW_H: f64 = 18.0;
const AXIS_H: f64 = 24.0;
const STRIP_H: f64 = 36.0;
const PAD_RIGHT: f64 = 24.0;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn colour(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Complete => "#2da44e",
        Outcome::Failed => "#cf222e",
        Outcome::Running => "#d4a72c",
        Outcome::Skipped => "#8c959f",
    }
}

/// A "nice" tick step (1, 2, 5 × 10^n milliseconds) giving about eight ticks.
fn tick_step(span: i64) -> i64 {
    let raw = (span.max(1) as f64 / 8.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    step as i64
}

/// The legend and the SVG. `stack_url` is where a bar's label links (the overview).
pub(crate) fn render(t: &Timeline, stack_url: String) -> Markup {
    let _ = &stack_url;
    if t.bars.is_empty() {
        return html! { p id="timeline-empty" { "No resource has been provisioned yet." } };
    }
    let span = (t.end - t.start).max(1);
    let x = |ms: i64| LABEL_W + (ms - t.start) as f64 / span as f64 * CHART_W;
    let rows_top = AXIS_H + STRIP_H + 6.0;
    // The first failure's reason gets a row of its own, under its bar.
    let extra = usize::from(t.first_failure.is_some());
    let height = rows_top + (t.bars.len() + extra) as f64 * ROW_H + 8.0;
    let width = LABEL_W + CHART_W + PAD_RIGHT;
    let mut s = String::with_capacity(256 * t.bars.len() + 4096);
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" id="timeline" role="img" aria-labelledby="timeline-title" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" font-size="11"><title id="timeline-title">Provisioning timeline: {n} operations over {d}</title><defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff" fill-opacity="0.0"/><line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2.5" stroke-opacity="0.55"/></pattern></defs>"##,
        n = t.bars.len(),
        d = esc(&duration(span)),
    );
    // Axis and grid.
    let step = tick_step(span);
    let mut tick = 0;
    while tick <= span {
        let tx = x(t.start + tick);
        let _ = write!(
            s,
            r##"<line x1="{tx:.1}" y1="{AXIS_H}" x2="{tx:.1}" y2="{height}" stroke="#eaeef2"/><text x="{tx:.1}" y="{ty}" text-anchor="middle" fill="#57606a">+{label}</text>"##,
            ty = AXIS_H - 8.0,
            label = esc(&duration(tick)),
        );
        tick += step;
    }
    let _ = write!(
        s,
        r##"<text x="4" y="{ty}" fill="#57606a">{start} UTC</text>"##,
        ty = AXIS_H - 8.0,
        start = esc(&time(t.start)),
    );
    // Parallelism strip: operations running over time, as a step area.
    let mut points: Vec<(i64, i32)> = Vec::new();
    for b in t.bars.iter().filter(|b| b.end > b.start) {
        points.push((b.start, 1));
        points.push((b.end, -1));
    }
    points.sort();
    let max = t.max_parallel.max(1) as f64;
    let base = AXIS_H + STRIP_H;
    let mut path = format!("M{:.1},{base:.1}", x(t.start));
    let mut running = 0i32;
    for (ms, d) in points {
        let px = x(ms);
        let y_before = base - running as f64 / max * (STRIP_H - 6.0);
        running += d;
        let y_after = base - running as f64 / max * (STRIP_H - 6.0);
        let _ = write!(path, " L{px:.1},{y_before:.1} L{px:.1},{y_after:.1}");
    }
    let _ = write!(path, " L{:.1},{base:.1} Z", x(t.end));
    let _ = write!(
        s,
        r##"<g id="parallelism"><title>Operations running at once (at most {m})</title><path d="{path}" fill="#b6d4fe" stroke="#0b5cad" stroke-width="1"/><text x="4" y="{ly:.1}" fill="#57606a">running at once (max {m})</text></g>"##,
        m = t.max_parallel,
        ly = base - 4.0,
    );
    // Stack phases.
    for (status, at) in &t.phases {
        let px = x(*at);
        let stroke = if status.contains("ROLLBACK") || status.contains("FAILED") {
            "#cf222e"
        } else {
            "#8c959f"
        };
        let _ = write!(
            s,
            r##"<line class="phase" x1="{px:.1}" y1="{AXIS_H}" x2="{px:.1}" y2="{height}" stroke="{stroke}" stroke-dasharray="3,3"><title>{st} at {tm}</title></line>"##,
            st = esc(status),
            tm = esc(&time(*at)),
        );
    }
    // Bars.
    for (i, b) in t.bars.iter().enumerate() {
        let after_failure = t.first_failure.is_some_and(|f| i > f);
        let y = rows_top + (i + usize::from(after_failure)) as f64 * ROW_H;
        let x0 = x(b.start);
        let w = (x(b.end) - x0).max(2.0);
        let first = t.first_failure == Some(i);
        if i % 2 == 1 {
            let _ = write!(
                s,
                r##"<rect x="0" y="{y:.1}" width="{width}" height="{ROW_H}" fill="#f6f8fa"/>"##
            );
        }
        let op = b.operation.as_str();
        let _ = write!(
            s,
            r##"<g class="bar" data-index="{i}" data-logical-id="{id}" data-operation="{op}" data-outcome="{oc}" data-critical="{cr}" data-first-failure="{first}" data-start="{st}" data-end="{en}"><title>{id} ({ty}): {op} {oc}, {d} from +{from}{crit}{reason}</title>"##,
            id = esc(&b.logical_id),
            ty = esc(&b.resource_type),
            oc = b.outcome.as_str(),
            cr = b.critical,
            st = b.start,
            en = b.end,
            d = esc(&duration(b.end - b.start)),
            from = esc(&duration(b.start - t.start)),
            crit = if b.critical {
                "; on the critical path"
            } else {
                ""
            },
            reason = b
                .reason
                .as_deref()
                .map(|r| format!(": {}", esc(r)))
                .unwrap_or_default(),
        );
        let label: String = b.logical_id.chars().take(30).collect();
        let _ = write!(
            s,
            r##"<text x="6" y="{ty:.1}" fill="{fill}"{weight}>{label}</text><text x="{ox}" y="{ty:.1}" fill="#57606a" text-anchor="end">{op}</text>"##,
            ty = y + ROW_H - 5.0,
            fill = if first { "#cf222e" } else { "#1b1f24" },
            weight = if b.critical || first {
                r##" font-weight="600""##
            } else {
                ""
            },
            label = esc(&label),
            ox = LABEL_W - 8.0,
        );
        let (stroke, sw) = if first {
            ("#82071e", 2.5)
        } else if b.critical {
            ("#6f42c1", 2.0)
        } else {
            ("none", 0.0)
        };
        let _ = write!(
            s,
            r##"<rect x="{x0:.1}" y="{ry:.1}" width="{w:.1}" height="{rh:.1}" rx="2" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>"##,
            ry = y + 3.0,
            rh = ROW_H - 6.0,
            fill = colour(b.outcome),
        );
        if b.operation == Operation::Rollback || b.operation == Operation::Delete {
            let _ = write!(
                s,
                r##"<rect x="{x0:.1}" y="{ry:.1}" width="{w:.1}" height="{rh:.1}" fill="url(#hatch)"/>"##,
                ry = y + 3.0,
                rh = ROW_H - 6.0,
            );
        }
        if first {
            // As much of the reason as fits the picture's width (bold 11 px text runs
            // about 7 px a character); the whole of it is in the bar's title and in the
            // first-failure banner above the picture.
            let room = ((CHART_W + PAD_RIGHT + 120.0) / 7.5) as usize;
            let full = b.reason.as_deref().unwrap_or("failed");
            let reason: String = if full.chars().count() > room {
                let mut cut: String = full.chars().take(room.saturating_sub(1)).collect();
                cut.push('…');
                cut
            } else {
                full.to_string()
            };
            let _ = write!(
                s,
                r##"<text class="first-failure" x="{tx:.1}" y="{ty:.1}" fill="#82071e" font-weight="600">✕ {r}</text>"##,
                tx = LABEL_W - 120.0,
                ty = y + 2.0 * ROW_H - 5.0,
                r = esc(&reason),
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    html! {
        div.legend aria-hidden="true" {
            span style="--c:#2da44e" { "complete" }
            span style="--c:#cf222e" { "failed" }
            span style="--c:#d4a72c" { "running" }
            span style="--c:#8c959f" { "skipped (retained)" }
            span style="--c:repeating-linear-gradient(45deg,#2da44e 0 3px,#a6dbb5 3px 6px)" { "delete / rollback (hatched)" }
            span style="--c:#fff;--b:#6f42c1" { "critical path (outlined)" }
            span style="--c:#fff;--b:#82071e" { "first failure" }
        }
        div.timeline { (raw(s)) }
    }
}

#[cfg(test)]
mod tests {
    use super::tick_step;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(8_000), 1_000);
        assert_eq!(tick_step(12_000), 2_000);
        assert_eq!(tick_step(30_000), 5_000);
        assert_eq!(tick_step(1), 1);
    }
}
