//! `GET /v1/inbox` and `POST /v1/inbox/ack`: a court's (or print centre's) inbox as a feed
//! in arrival order, and as a work queue handed out under leases.
//!
//! The work queue (`order=urgent`) gives each item to one poller at a time, for `lease`
//! seconds; it is retrieved, and its retrieval receipt signed, only when the court
//! acknowledges it. An answer lost on the way leaves the item unacknowledged: it comes
//! back to the queue when its lease ends. The feed (`order=arrival`) receipts each
//! message the first time it is read.
//!
//! Either can be a long poll (`wait=S`): with nothing to give, the answer waits until a
//! message lands in one of the gateway's inboxes (or S seconds pass), so a court sees a
//! freeze order as soon as it is stored, without polling in a tight loop.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::caller::Caller;
use super::court::{INBOX_PAGE, query_number, query_value};
use super::problem::JsonBody;
use crate::api::{AckAnswer, AckRequest, Acknowledged, InboxEntry, InboxPage};
use crate::clock::rfc3339;
use crate::gateway::Gateway;
use crate::problem::{Code, Problem};
use crate::receipt::{Hop, Receipt};
use crate::store::{InboxItem, InboxOrder};

/// The longest a poller may wait for its inbox to have something (`wait`, seconds); the
/// court listener's request deadline lowers it (it stays 5 s inside that deadline).
pub const WAIT_SECONDS: i64 = 25;

/// How long a work-queue item is held for its poller when it asks for no `lease`, and
/// the bounds of what it may ask (seconds).
pub const LEASE_SECONDS: (i64, i64, i64) = (60, 5, 600);

/// The `order` of `GET /v1/inbox`, as the API reference lists it.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // read from the query by hand (query_value); here for the reference
pub(super) enum InboxOrderParam {
    /// Everything after `after`, oldest first.
    Arrival,
    /// The work queue.
    Urgent,
}

/// The calling court's (or print centre's) inbox: new requests, updates on its own
/// requests, and the gateway's notices.
#[utoipa::path(
    get,
    path = "/v1/inbox",
    tag = "inbox",
    params(
        ("after" = Option<i64>, Query, description = "Arrival order: only entries after this cursor (pass the last `nextCursor`). Default 0."),
        ("limit" = Option<i64>, Query, description = "At most this many (default 50, at most 500)."),
        ("order" = Option<InboxOrderParam>, Query, description = "`arrival` (default): everything after `after`, oldest first; the first read of each message is its retrieval, receipted in `receipt`. `urgent`: the work queue: entries not retrieved yet and held by no other poller, preservation first, then oldest first, each leased to this poller until `leaseUntil`; acknowledge them with POST /v1/inbox/ack, or they come back to the queue when the lease ends."),
        ("lease" = Option<i64>, Query, minimum = 5, maximum = 600, description = "`urgent` only: seconds to hold the items for this poller (default 60, from 5 to 600)."),
        ("priority" = Option<String>, Query, description = "`urgent` only: `high` hands out preservation work only (freezes and lifts), for a desk that handles nothing else; other work stays in the queue."),
        ("wait" = Option<i64>, Query, minimum = 0, maximum = 25, description = "Long poll: when there is nothing to give, hold the request up to this many seconds and answer as soon as something arrives (default 0: answer at once). At most 25, and at most the court listener's request deadline less 5 s. An empty page after the wait is normal; ask again.")
    ),
    responses((status = 200, description = "A page of the inbox.", body = InboxPage))
)]
pub(super) async fn inbox(
    State(g): State<Arc<Gateway>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let query = query.unwrap_or_default();
    let after = query_number(&query, "after")?.unwrap_or(0).max(0);
    let limit = query_number(&query, "limit")?
        .unwrap_or(INBOX_PAGE.0)
        .clamp(1, INBOX_PAGE.1);
    let (default, min, max) = LEASE_SECONDS;
    let lease = query_number(&query, "lease")?.unwrap_or(default);
    if !(min..=max).contains(&lease) {
        return Err(Problem::new(
            Code::BadRequest,
            format!("query parameter lease must be {min} to {max} seconds, not {lease}"),
        ));
    }
    let most = WAIT_SECONDS
        .min(i64::try_from(g.config.connections.request_timeout_ms / 1000).unwrap_or(i64::MAX) - 5);
    let wait = query_number(&query, "wait")?.unwrap_or(0);
    if !(0..=most.max(0)).contains(&wait) {
        return Err(Problem::new(
            Code::BadRequest,
            format!(
                "query parameter wait must be 0 to {} seconds, not {wait}",
                most.max(0)
            ),
        ));
    }
    let wait = std::time::Duration::from_secs(wait.unsigned_abs());
    let urgent_only = match query_value(&query, "priority") {
        None => false,
        Some("high") => true,
        Some(other) => {
            return Err(Problem::new(
                Code::BadRequest,
                format!("query parameter priority must be high (or absent), not {other:?}"),
            ));
        }
    };
    match query_value(&query, "order") {
        None | Some("arrival") if urgent_only => Err(Problem::new(
            Code::BadRequest,
            "query parameter priority=high is for the work queue: add order=urgent",
        )),
        None | Some("arrival") => feed(&g, &caller, after, limit, wait).await,
        Some("urgent") => work_queue(&g, &caller, limit, lease, urgent_only, wait).await,
        Some(other) => Err(Problem::new(
            Code::BadRequest,
            format!("query parameter order must be arrival or urgent, not {other:?}"),
        )),
    }
}

/// Runs `read` until it gives items or `wait` has passed: again each time `wake` tells
/// that a message from a peer landed in one of this gateway's inboxes, and at least every
/// second (so that what another replica received, or a gateway notice, is seen too).
async fn waiting<F, Fut>(
    wake: &tokio::sync::watch::Sender<u64>,
    wait: Duration,
    mut read: F,
) -> Result<Vec<InboxItem>, Problem>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Vec<InboxItem>, Problem>>,
{
    let end = Instant::now() + wait;
    loop {
        // Subscribed before reading: an arrival committed after the read still wakes us.
        let mut arrivals = wake.subscribe();
        let items = read().await?;
        let now = Instant::now();
        if !items.is_empty() || now >= end {
            return Ok(items);
        }
        let tick = (now + Duration::from_secs(1)).min(end);
        tokio::select! {
            _ = arrivals.changed() => {}
            () = tokio::time::sleep_until(tick) => {}
        }
    }
}

/// The feed: a page after `after`, each message receipted at its first read.
async fn feed(
    g: &Gateway,
    caller: &Caller,
    after: i64,
    limit: i64,
    wait: Duration,
) -> Result<Response, Problem> {
    let items = waiting(&g.inbox_wake, wait, || async {
        g.store
            .inbox(caller.code(), InboxOrder::Arrival { after }, limit)
            .await
            .map_err(Problem::internal)
    })
    .await?;
    let now = g.clock.now();
    let mut first_time = Vec::new();
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let receipt = item
            .retrieved_at
            .is_none()
            .then(|| retrieval_receipt(g, caller, &item))
            .flatten();
        if item.retrieved_at.is_none() {
            first_time.push((item.clone(), receipt.clone()));
        }
        entries.push(InboxEntry::new(item, receipt));
    }
    g.store
        .record_retrievals(first_time, &caller.actor(), now)
        .await
        .map_err(Problem::internal)?;
    g.receipts_wake.notify_one();
    let next_cursor = entries.last().map(|e| e.cursor).unwrap_or(after);
    Ok(Json(InboxPage {
        items: entries,
        next_cursor,
        lease_until: None,
    })
    .into_response())
}

/// The work queue: up to `limit` items leased to this poller for `lease` seconds.
async fn work_queue(
    g: &Gateway,
    caller: &Caller,
    limit: i64,
    lease: i64,
    urgent_only: bool,
    wait: Duration,
) -> Result<Response, Problem> {
    let mut until = g.clock.now();
    let wake = if urgent_only {
        &g.urgent_inbox_wake
    } else {
        &g.inbox_wake
    };
    let items = waiting(wake, wait, || {
        let now = g.clock.now();
        until = now + time::Duration::seconds(lease);
        let until = until;
        async move {
            g.store
                .lease_work(caller.code(), limit, urgent_only, now, until)
                .await
                .map_err(Problem::internal)
        }
    })
    .await?;
    let next_cursor = items.iter().map(|i| i.cursor).max().unwrap_or(0);
    Ok(Json(InboxPage {
        items: items
            .into_iter()
            .map(|i| InboxEntry::new(i, None))
            .collect(),
        next_cursor,
        lease_until: Some(rfc3339(until)),
    })
    .into_response())
}

/// The retrieval receipt of a message item (none for a gateway notice).
fn retrieval_receipt(g: &Gateway, caller: &Caller, item: &InboxItem) -> Option<Receipt> {
    let court = match caller {
        Caller::Court(c) => Some(c.clone()),
        Caller::PrintCentre(_) => None,
    };
    item.envelope_sha256.map(|digest| {
        Receipt::issue(
            Hop::Retrieval,
            item.message_id,
            digest,
            g.region.clone(),
            court,
            g.clock.now(),
            &g.key,
        )
    })
}

/// Acknowledge work-queue items: each is retrieved now (its retrieval receipt signed and
/// kept, the request moved to `retrieved`) and leaves the queue for good.
///
/// Acknowledging again answers with the receipts kept the first time. Cursors not in the
/// caller's inbox: 404, and nothing is acknowledged.
#[utoipa::path(
    post,
    path = "/v1/inbox/ack",
    tag = "inbox",
    request_body = AckRequest,
    params(("Idempotency-Key" = String, Header, description = "Required, as on every POST; acknowledging is idempotent in itself: a retry answers with the receipts kept the first time.")),
    responses((status = 200, description = "The items retrieved, with their retrieval receipts.", body = AckAnswer))
)]
pub(super) async fn acknowledge(
    State(g): State<Arc<Gateway>>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AckRequest>,
) -> Result<Response, Problem> {
    crate::outbound::idempotency::key_of(&headers)?;
    let cursors: BTreeSet<i64> = body.cursors.iter().copied().collect();
    if cursors.is_empty() || cursors.len() > usize::try_from(INBOX_PAGE.1).unwrap_or(500) {
        return Err(Problem::new(
            Code::BadRequest,
            format!("cursors must name 1 to {} inbox items", INBOX_PAGE.1),
        ));
    }
    let cursors: Vec<i64> = cursors.into_iter().collect();
    let items = g
        .store
        .inbox_items(caller.code(), &cursors)
        .await
        .map_err(Problem::internal)?;
    if items.len() != cursors.len() {
        let found: BTreeSet<i64> = items.iter().map(|i| i.cursor).collect();
        let missing: Vec<String> = cursors
            .iter()
            .filter(|c| !found.contains(c))
            .map(i64::to_string)
            .collect();
        return Err(Problem::new(
            Code::NotFound,
            format!(
                "{} has no inbox item at cursor {}; nothing was acknowledged",
                caller.code(),
                missing.join(", ")
            ),
        ));
    }
    let first_time = items
        .iter()
        .filter(|i| i.retrieved_at.is_none())
        .map(|i| (i.clone(), retrieval_receipt(&g, &caller, i)))
        .collect();
    g.store
        .record_retrievals(first_time, &caller.actor(), g.clock.now())
        .await
        .map_err(Problem::internal)?;
    g.receipts_wake.notify_one();
    // The receipts as kept: the first acknowledgement's, also for a retry or a race.
    let mut acknowledged = Vec::with_capacity(items.len());
    for item in items {
        let receipt = match item.envelope_sha256 {
            Some(_) => g
                .store
                .receipt_of(&item.message_id, Hop::Retrieval)
                .await
                .map_err(Problem::internal)?,
            None => None,
        };
        acknowledged.push(Acknowledged {
            cursor: item.cursor,
            message_id: item.message_id,
            receipt,
        });
    }
    Ok(Json(AckAnswer {
        items: acknowledged,
    })
    .into_response())
}
