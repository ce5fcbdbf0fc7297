//! The supervision dashboard: server-rendered HTML pages on the admin listener, with the
//! admin API's authentication (an administrator certificate, or the kernel's word on the
//! Unix socket), for the administrators and court leaders who supervise cross-region work.
//!
//! | route | page |
//! |---|---|
//! | `GET /admin/dashboard` | volumes, work in flight (overdue, due by the next working day), cycle times, postal fallback, freezes nearing expiry, partner health |
//! | `GET /admin/dashboard/requests/{id}` | one request's timeline: states, deadlines, receipts, messages, postal tracking |
//!
//! Chinese by default, English with `?lang=en` (remembered in a cookie). Everything is in
//! the answer: the style sheet is compiled in, charts are inline SVG, there is no script
//! and nothing is fetched (the Content-Security-Policy says so). Every value is escaped by
//! maud, so hostile payload text shows as text.

mod chart;
pub mod overview;
mod page;
pub mod text;
mod timeline;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::gateway::Gateway;
use crate::http::admin::AdminIdentity;
use crate::ids::MessageId;
use crate::problem::Problem;
pub use overview::Overview;
pub use text::Lang;

/// The style sheet, compiled in.
const STYLE: &str = include_str!("style.css");

/// What the answer allows the browser: the inline style, nothing else.
const POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The dashboard's routes (merged into the admin router).
pub fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/admin/dashboard", get(main_page))
        .route("/admin/dashboard/requests/{id}", get(request_page))
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// The page's language, and the cookie to remember it when the query chose it.
fn language(q: &LangQuery, headers: &HeaderMap) -> (Lang, Option<HeaderValue>) {
    let cookies = headers.get(header::COOKIE).and_then(|c| c.to_str().ok());
    let lang = Lang::choose(q.lang.as_deref(), cookies);
    let cookie = q.lang.as_deref().and_then(Lang::parse).map(|l| {
        HeaderValue::from_static(match l {
            Lang::Zh => "kuayu_lang=zh; Path=/admin/dashboard; SameSite=Strict; HttpOnly",
            Lang::En => "kuayu_lang=en; Path=/admin/dashboard; SameSite=Strict; HttpOnly",
        })
    });
    (lang, cookie)
}

fn answer(page: Markup, cookie: Option<HeaderValue>) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page.into_string(),
    )
        .into_response();
    if let Some(c) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, c);
    }
    response
}

async fn main_page(
    State(g): State<Arc<Gateway>>,
    AdminIdentity(_): AdminIdentity,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (lang, cookie) = language(&q, &headers);
    let overview = Overview::read(&g).await.map_err(Problem::internal)?;
    Ok(answer(
        page::render(lang, g.region.as_str(), &overview),
        cookie,
    ))
}

async fn request_page(
    State(g): State<Arc<Gateway>>,
    AdminIdentity(_): AdminIdentity,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (lang, cookie) = language(&q, &headers);
    let now = g.clock.now();
    let region = g.region.as_str();
    let view = match MessageId::parse(&id) {
        Ok(id) => g.store.request_view(&id).await.map_err(Problem::internal)?,
        Err(_) => None,
    };
    let Some(view) = view else {
        let mut r = answer(timeline::not_found(lang, region, now, &id), cookie);
        *r.status_mut() = axum::http::StatusCode::NOT_FOUND;
        return Ok(r);
    };
    let view = view.as_of(now);
    let jobs = g
        .store
        .print_jobs_of(&view.record.id)
        .await
        .map_err(Problem::internal)?;
    Ok(answer(
        timeline::render(lang, region, now, &view, &jobs),
        cookie,
    ))
}

/// `t` in China Standard Time, to the minute.
pub fn local_time(t: OffsetDateTime) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    match t.checked_to_offset(offset) {
        Some(l) => format!(
            "{}-{:02}-{:02} {:02}:{:02}",
            l.year(),
            u8::from(l.month()),
            l.day(),
            l.hour(),
            l.minute()
        ),
        None => crate::clock::rfc3339(t),
    }
}

/// A link to a request's timeline.
fn request_link(l: Lang, id: &MessageId) -> Markup {
    let text = id.to_string();
    html! {
        a.request href={"/admin/dashboard/requests/" (id) "?lang=" (l.code())} title=(text) { (text[..8]) "…" }
    }
}

/// The frame of every page: title, gateway, time, the language toggle.
fn layout(l: Lang, region: &str, now: OffsetDateTime, path: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(match l { Lang::Zh => "zh-CN", Lang::En => "en" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (l.t("title")) " · " (region) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { (l.t("title")) }
                    span.gateway { (l.t("gateway")) " " strong #region { (region) } }
                    span.asof { (l.t("as_of")) " " (local_time(now)) " (UTC+8)" }
                    a #lang-toggle href={(path) "?lang=" (l.other().code())} { (l.t("toggle")) }
                }
                main { (body) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_beijing() {
        let t = time::macros::datetime!(2026-11-25 16:30 UTC);
        assert_eq!(local_time(t), "2026-11-26 00:30");
    }

    #[test]
    fn the_style_sheet_is_compiled_in_and_fetches_nothing() {
        assert!(!STYLE.contains("url(") && !STYLE.contains("@import"));
    }
}
