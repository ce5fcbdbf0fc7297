//! A request's timeline page: every state it passed, its deadlines with their status now,
//! every receipt and message, and the postal tracking of a fallback to the post; the W3C
//! trace id of the request and of each history entry (the same at the peer gateway, to
//! find every log line about it). Payload text (a history entry's detail, a print job's
//! tracking) is shown escaped, as text.

use maud::{Markup, html};

use super::text::Lang;
use super::{layout, local_time};
use crate::store::{PrintJob, RequestView};

/// The timeline of `view` (read as of `now`), with the request's print jobs.
pub fn render(
    l: Lang,
    region: &str,
    now: time::OffsetDateTime,
    view: &RequestView,
    jobs: &[PrintJob],
) -> Markup {
    let r = &view.record;
    let path = format!("/admin/dashboard/requests/{}", r.id);
    layout(
        l,
        region,
        now,
        &path,
        html! {
            p { a #back href={"/admin/dashboard?lang=" (l.code())} { "← " (l.t("back")) } }
            section #request {
                h2 { (l.t("timeline")) ": " span #request-id { (r.id) } }
                dl.facts {
                    dt { (l.t("kind")) } dd #request-kind { (l.t(r.family.as_str())) " (" (r.family.as_str()) ")" }
                    dt { (l.t("role")) } dd { (l.t(r.role.as_str())) }
                    dt { (l.t("requesting")) } dd { (r.requesting_court) }
                    dt { (l.t("requested")) } dd { (r.requested_court) }
                    dt { (l.t("state")) } dd #request-state { (r.state) @if view.overdue { " " span.pill.open #request-overdue { (l.t("overdue")) } } }
                    dt { (l.t("created")) } dd { (local_time(r.created_at)) }
                    dt { (l.t("agreement")) } dd { (r.agreement_id) " " code { (r.agreement_sha256) } }
                    dt { (l.t("trace")) } dd #request-trace { @if let Some(t) = &r.trace_id { code { (t) } } @else { "—" } }
                }
            }
            section #deadlines {
                h3 { (l.t("deadlines")) }
                @if view.deadlines.is_empty() { p.none { (l.t("none")) } } @else {
                    table { thead { tr { th { (l.t("deadline")) } th { (l.t("due_at")) } th { (l.t("met_at")) } th { (l.t("status")) } } }
                    tbody { @for d in &view.deadlines {
                        tr id={"deadline-" (d.name)} {
                            td { (d.name) } td { (local_time(d.due_at)) }
                            td { @if let Some(m) = d.met_at { (local_time(m)) } }
                            td { span class={"pill " (d.status)} { (d.status) } }
                        }
                    } } }
                }
            }
            section #history {
                h3 { (l.t("history")) }
                table { thead { tr { th { (l.t("at")) } th { (l.t("state")) } th { (l.t("event")) } th { (l.t("actor")) } th { (l.t("detail")) } th { (l.t("trace")) } } }
                tbody { @for h in &view.history {
                    tr.event {
                        td { (local_time(h.at)) } td { (h.state) } td { (h.event) } td { (h.actor) }
                        td.detail { @if !h.detail.is_null() { code { (h.detail.to_string()) } } }
                        td.trace { @if let Some(t) = &h.trace_id { code { (t) } } }
                    }
                } } }
            }
            @if !jobs.is_empty() {
                section #postal-tracking {
                    h3 { (l.t("print_jobs")) }
                    table { thead { tr { th { (l.t("print_centre")) } th { (l.t("state")) } th { (l.t("tracking")) } th { (l.t("created")) } } }
                    tbody { @for j in jobs {
                        tr {
                            td { (j.print_centre) } td.job-state { (j.state) }
                            td.tracking { (j.job["postal"]["trackingNumber"].as_str().unwrap_or("—")) }
                            td { (local_time(j.created_at)) }
                        }
                    } } }
                }
            }
            section #receipts {
                h3 { (l.t("receipts")) }
                table { thead { tr { th { (l.t("hop")) } th { (l.t("issuer")) } th { (l.t("message")) } th { (l.t("at")) } } }
                tbody { @for rc in &view.receipts {
                    tr { td { (l.t(rc.hop.as_str())) } td { (rc.issuer) } td { code { (rc.message_id) } } td { (local_time(rc.at)) } }
                } } }
            }
            section #messages {
                h3 { (l.t("messages")) }
                table { thead { tr { th { (l.t("direction")) } th { (l.t("kind")) } th { (l.t("message")) } th { (l.t("digest")) } } }
                tbody { @for m in &view.messages {
                    tr { td { (l.t(&m.direction)) } td { (m.kind) } td { code { (m.id) } } td { code { (m.envelope_sha256) } } }
                } } }
            }
        },
    )
}

/// The page for an id this gateway does not hold.
pub fn not_found(l: Lang, region: &str, now: time::OffsetDateTime, id: &str) -> Markup {
    layout(
        l,
        region,
        now,
        "/admin/dashboard",
        html! {
            p { a #back href={"/admin/dashboard?lang=" (l.code())} { "← " (l.t("back")) } }
            p #not-found { (l.t("not_found")) ": " code { (id) } }
        },
    )
}
