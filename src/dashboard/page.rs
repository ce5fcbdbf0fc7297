//! The main page: the [`Overview`] as HTML. Element ids name what they show
//! (`vol-service-requester-today`, `overdue-count`, `peer-CQ`), for people and for the
//! browser tests.

use maud::{Markup, html};

use super::chart::{self, CycleBar};
use super::overview::{Counts, FAMILIES, Overview};
use super::text::Lang;
use super::{layout, local_time, request_link};
use crate::relay::breaker::State as Breaker;
use crate::store::{DAY_MS, DueItem};

const DAY: f64 = DAY_MS as f64;

fn day_label(day: i64) -> String {
    let date = crate::clock::from_unix_millis(day * DAY_MS);
    format!("{:02}-{:02}", u8::from(date.month()), date.day())
}

fn counts_cells(id: &str, c: &Counts) -> Markup {
    html! {
        td.num id={(id) "-today"} { (c.today) }
        td.num id={(id) "-week"} { (c.week) }
        td.num id={(id) "-weeks12"} { (c.weeks12) }
    }
}

fn counts_head(l: Lang, first: &[&str]) -> Markup {
    html! {
        thead { tr {
            @for h in first { th { (l.t(h)) } }
            th.num { (l.t("today")) } th.num { (l.t("days7")) } th.num { (l.t("weeks12")) }
        } }
    }
}

fn volumes(l: Lang, o: &Overview) -> Markup {
    let legend = [l.t("out"), l.t("in")];
    let days: Vec<_> = o
        .per_day
        .iter()
        .map(|(d, a, b)| (day_label(*d), *a, *b))
        .collect();
    let weeks: Vec<_> = o
        .per_week
        .iter()
        .map(|(d, a, b)| (day_label(*d), *a, *b))
        .collect();
    html! {
        section #volumes {
            h2 { (l.t("volumes")) }
            div.charts {
                figure { figcaption { (l.t("per_day")) } (chart::stacked_bars("chart-days", l.t("per_day"), &days, legend)) }
                figure { figcaption { (l.t("per_week")) } (chart::stacked_bars("chart-weeks", l.t("per_week"), &weeks, legend)) }
            }
            div.tables {
                table #by-kind {
                    caption { (l.t("by_kind")) }
                    (counts_head(l, &["kind", "direction"]))
                    tbody { @for ((family, role), c) in &o.by_kind {
                        tr { td { (l.t(family)) } td { (l.t(role)) } (counts_cells(&format!("vol-{family}-{role}"), c)) }
                    } }
                }
                table #by-partner {
                    caption { (l.t("by_partner")) }
                    (counts_head(l, &["partner"]))
                    tbody { @for (p, c) in &o.by_partner {
                        tr { td { (p) } (counts_cells(&format!("vol-partner-{p}"), c)) }
                    } }
                }
                table #by-court {
                    caption { (l.t("by_court")) }
                    (counts_head(l, &["court"]))
                    tbody { @for (court, c) in &o.by_court {
                        tr { td { (court) } (counts_cells(&format!("vol-court-{court}"), c)) }
                    } }
                }
            }
        }
    }
}

fn due_list(l: Lang, id: &str, title: &str, list: &(i64, Vec<DueItem>)) -> Markup {
    html! {
        div.due id=(id) {
            h3 { (title) " " span.count id={(id) "-count"} { (list.0) } }
            @if list.1.is_empty() {
                p.none { (l.t("none")) }
            } @else {
                table {
                    thead { tr { th { (l.t("request")) } th { (l.t("kind")) } th { (l.t("role")) } th { (l.t("courts")) } th { (l.t("deadline")) } th { (l.t("due_at")) } } }
                    tbody { @for d in &list.1 {
                        tr.item {
                            td { (request_link(l, &d.request.id)) }
                            td { (l.t(d.request.family.as_str())) }
                            td { (l.t(d.request.role.as_str())) }
                            td { (d.request.requesting_court) " → " (d.request.requested_court) }
                            td { (d.deadline) }
                            td { (local_time(d.due_at)) }
                        }
                    } }
                }
                @if list.0 > list.1.len() as i64 {
                    p.more { (l.t("more")) " " (list.0 - list.1.len() as i64) }
                }
            }
        }
    }
}

fn in_flight(l: Lang, o: &Overview) -> Markup {
    let total: i64 = o.open.iter().map(|c| c.requests).sum();
    let mut states: Vec<&str> = o.open.iter().map(|c| c.state.as_str()).collect();
    states.sort_unstable();
    states.dedup();
    let cell = |state: &str, family: &str| -> i64 {
        o.open
            .iter()
            .filter(|c| c.state == state && c.family == family)
            .map(|c| c.requests)
            .sum()
    };
    html! {
        section #in-flight {
            h2 { (l.t("in_flight")) " " span.count #open-total { (total) } }
            table #open-by-state {
                thead { tr { th { (l.t("state")) } @for f in FAMILIES { th.num { (l.t(f)) } } } }
                tbody { @for s in &states {
                    tr { td { (s) } @for f in FAMILIES { td.num id={"open-" (s) "-" (f)} { (cell(s, f)) } } }
                } }
            }
            (due_list(l, "overdue", l.t("overdue"), &o.overdue))
            (due_list(l, "due-next", &format!("{} ({})", l.t("due_next"), local_time(o.next_day_end)), &o.due_next))
        }
    }
}

fn cycles(l: Lang, o: &Overview) -> Markup {
    let bars: Vec<CycleBar> = o
        .cycles
        .iter()
        .map(|c| CycleBar {
            name: c.name.clone(),
            p50: c.p50_ms as f64 / DAY,
            p90: c.p90_ms as f64 / DAY,
            allowed: c.allowed_ms as f64 / DAY,
        })
        .collect();
    html! {
        section #cycles {
            h2 { (l.t("cycle")) }
            p.note { (l.t("cycle_note")) }
            @if bars.is_empty() { p.none { (l.t("none")) } } @else {
                (chart::cycle_bars("chart-cycles", l.t("cycle"), &bars, [l.t("median"), l.t("p90"), l.t("allowed")]))
                table #cycle-table {
                    thead { tr { th { (l.t("deadline")) } th.num { (l.t("samples")) } th.num { (l.t("median")) } th.num { (l.t("p90")) } th.num { (l.t("allowed")) } th.num { (l.t("late")) } } }
                    tbody { @for (c, b) in o.cycles.iter().zip(&bars) {
                        tr id={"cycle-" (c.name)} {
                            td { (c.name) } td.num { (c.samples) }
                            td.num { (chart::fmt_days(b.p50)) " " (l.t("days")) }
                            td.num { (chart::fmt_days(b.p90)) " " (l.t("days")) }
                            td.num { (chart::fmt_days(b.allowed)) " " (l.t("days")) }
                            td.num { (c.late) }
                        }
                    } }
                }
            }
        }
    }
}

fn postal_and_freezes(l: Lang, o: &Overview) -> Markup {
    let (received, postal) = &o.postal;
    let rate = if *received > 0 {
        format!("{:.0}%", postal.requests as f64 * 100.0 / *received as f64)
    } else {
        "—".to_owned()
    };
    html! {
        section #postal {
            h2 { (l.t("postal")) }
            p.note { (l.t("postal_note")) }
            p { (l.t("fallback_rate")) ": " strong #fallback-rate { (rate) } " (" (postal.requests) " / " (received) ")" }
            table #postal-outcomes {
                thead { tr { th { (l.t("outcomes")) } th.num { (l.t("jobs")) } } }
                tbody { @for (state, n) in &postal.by_state { tr { td { (state) } td.num { (n) } } } }
            }
        }
        section #freezes {
            h2 { (l.t("freezes")) }
            p.note { (l.t("freezes_note")) }
            @if o.freezes.is_empty() { p.none { (l.t("none")) } } @else {
                table { tbody { @for d in &o.freezes {
                    tr.item { td { (request_link(l, &d.request.id)) } td { (d.request.requesting_court) " → " (d.request.requested_court) } td { (l.t("warning_at")) " " (local_time(d.due_at)) } }
                } } }
            }
        }
    }
}

fn partners(l: Lang, o: &Overview) -> Markup {
    html! {
        section #partners {
            h2 { (l.t("partners")) }
            table #peers {
                thead { tr { th { (l.t("peer")) } th { (l.t("breaker")) } th.num { (l.t("backlog")) } th { (l.t("oldest")) } th { (l.t("last_delivery")) } th { (l.t("refusals")) } } }
                tbody { @for p in &o.partners {
                    @let (class, word) = match p.breaker {
                        Breaker::Closed => ("closed", l.t("closed")),
                        Breaker::Open { .. } => ("open", l.t("open")),
                        Breaker::Probing { .. } => ("probing", l.t("probing")),
                    };
                    tr id={"peer-" (p.peer)} {
                        td { (p.peer) }
                        td.breaker data-state=(class) { span class={"pill " (class)} { (word) }
                            @if let Breaker::Open { failures, .. } | Breaker::Probing { failures } = p.breaker { " (" (failures) " " (l.t("failures")) ")" } }
                        td.num.backlog { (p.pending) }
                        td { @if let Some(ms) = p.oldest_ms { (local_time(crate::clock::from_unix_millis(ms))) } }
                        td.last { @match p.last_delivery_ms { Some(ms) => (local_time(crate::clock::from_unix_millis(ms))), None => (l.t("never")) } }
                        td { @for (code, n) in &p.refusals { span.code { (if code.is_empty() { "—" } else { code }) ": " (n) } " " } }
                    }
                } }
            }
            h3 { (l.t("dead")) }
            @let dead: Vec<_> = o.partners.iter().flat_map(|p| &p.dead).collect();
            @if dead.is_empty() { p.none { (l.t("none")) } } @else {
                table #dead-letters {
                    thead { tr { th { (l.t("at")) } th { (l.t("peer")) } th { (l.t("request")) } th { (l.t("code")) } th { (l.t("reason")) } } }
                    tbody { @for d in dead {
                        tr.item {
                            td { (local_time(d.at)) } td { (d.peer) }
                            td { @match crate::ids::MessageId::parse(&d.request_id) { Ok(id) => (request_link(l, &id)), Err(_) => (d.request_id) } }
                            td { (d.code.as_deref().unwrap_or("—")) } td.reason { (d.reason) }
                        }
                    } }
                }
            }
        }
    }
}

/// The main page of `region`'s gateway.
pub fn render(l: Lang, region: &str, o: &Overview) -> Markup {
    layout(
        l,
        region,
        o.now,
        "/admin/dashboard",
        html! {
            (volumes(l, o))
            (in_flight(l, o))
            (cycles(l, o))
            (postal_and_freezes(l, o))
            (partners(l, o))
        },
    )
}
