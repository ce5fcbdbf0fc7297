//! How one trip of retrieval receipts reaches its peer: all in one
//! `POST /federation/v1/receipts/batch`, each answered on its own; or, to a peer that
//! answers that route 404 as a whole (a kuayu from before it), one by one as
//! `POST /federation/v1/receipts` takes them.

use serde::Serialize;

use super::{Failure, Trip};
use crate::api::{ReceiptResult, ReceiptResults, ReceiptTaken};
use crate::observe::trace;
use crate::problem::Problem;
use crate::receipt::Receipt;
use crate::store::ReceiptOutboxItem;

/// The body of the batch route (see [`crate::api::ReceiptBatch`]).
#[derive(Serialize)]
struct Outgoing<'a> {
    receipts: Vec<Carried<'a>>,
}

#[derive(Serialize)]
struct Carried<'a> {
    receipt: &'a Receipt,
    #[serde(skip_serializing_if = "Option::is_none")]
    traceparent: Option<String>,
}

/// Sends one trip's receipts in one request: each one's outcome, in order.
pub(super) async fn attempt(trip: &Trip) -> Vec<Result<(), Failure>> {
    let all = |failure: Failure| vec![Err(failure); trip.items.len()];
    let body = Outgoing {
        receipts: trip.items.iter().map(carried).collect(),
    };
    let url = &trip.url;
    let body = match post(trip.client.post(url).json(&body), url).await {
        Ok(body) => body,
        Err(Refused::NotFound(_)) => return one_by_one(trip).await,
        Err(Refused::Other(failure)) => return all(failure),
    };
    let results = match crate::json::from_slice::<ReceiptResults>(&body) {
        Ok(answer) if answer.results.len() == trip.items.len() => answer.results,
        Ok(answer) => {
            return all((
                format!(
                    "{url}: {} results for {} receipts",
                    answer.results.len(),
                    trip.items.len()
                ),
                true,
            ));
        }
        Err(e) => {
            return all((
                format!("{url}: the answer is not the receipts' results: {e}"),
                true,
            ));
        }
    };
    trip.items
        .iter()
        .zip(results)
        .map(|(item, result)| match result {
            ReceiptResult::Taken(taken) if taken.message_id == item.message_id => Ok(()),
            ReceiptResult::Taken(taken) => Err((
                format!(
                    "{url}: the result names message {}, not {}",
                    taken.message_id, item.message_id
                ),
                true,
            )),
            ReceiptResult::Refused { problem } => {
                let retry = problem.retryable();
                Err((problem.to_string(), retry))
            }
        })
        .collect()
}

/// One receipt as the batch route carries it.
fn carried(item: &ReceiptOutboxItem) -> Carried<'_> {
    Carried {
        receipt: &item.receipt,
        traceparent: item.trace_id.as_deref().map(trace::traceparent),
    }
}

/// Sends a trip's receipts one request each to a peer without the batch route, as that
/// route takes one: the receipt as the body, its message's trace in a `traceparent`
/// header.
async fn one_by_one(trip: &Trip) -> Vec<Result<(), Failure>> {
    tracing::info!(url = %trip.url, receipts = trip.items.len(), "the peer has no batch route for receipts; sending them one by one");
    let mut outcomes = Vec::with_capacity(trip.items.len());
    for item in &trip.items {
        let mut request = trip.client.post(&trip.single).json(&item.receipt);
        if let Some(trace) = &item.trace_id {
            request = request.header(trace::HEADER, trace::traceparent(trace));
        }
        let sent = post(request, &trip.single).await;
        outcomes.push(match sent {
            Ok(body) => match crate::json::from_slice::<ReceiptTaken>(&body) {
                Ok(taken) if taken.message_id == item.message_id => Ok(()),
                _ => Err((
                    format!(
                        "{}: the answer is not of receipt {}",
                        trip.single, item.message_id
                    ),
                    true,
                )),
            },
            Err(Refused::NotFound(failure) | Refused::Other(failure)) => Err(failure),
        });
    }
    outcomes
}

/// Why a request to a peer was not answered with success.
enum Refused {
    /// It answered 404 (the route may not exist there).
    NotFound(Failure),
    /// Anything else.
    Other(Failure),
}

/// Sends `request` (a POST to `url`): the answer's body if its status is a success.
async fn post(request: reqwest::RequestBuilder, url: &str) -> Result<Vec<u8>, Refused> {
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            let failure = (format!("{url}: {}", crate::client::error_text(&e)), true);
            return Err(Refused::Other(failure));
        }
    };
    let status = response.status();
    let body = crate::peers::read_answer(response, crate::peers::MAX_ANSWER)
        .await
        .map_err(|e| Refused::Other((format!("{url}: reading the answer: {e}"), true)))?;
    if status.is_success() {
        return Ok(body);
    }
    let failure = match crate::json::from_slice::<Problem>(&body) {
        Ok(p) => {
            let retry = p.retryable();
            (p.to_string(), retry)
        }
        Err(_) => (
            format!("{url}: HTTP {status} without a problem document"),
            true,
        ),
    };
    Err(if status == reqwest::StatusCode::NOT_FOUND {
        Refused::NotFound(failure)
    } else {
        Refused::Other(failure)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Json;
    use axum::routing::post;
    use serde_json::json;

    use super::super::{BATCH_PATH, PATH};
    use super::*;
    use crate::crypto::SigningKey;
    use crate::ids::{MessageId, RegionId, Sha256};
    use crate::receipt::Hop;

    fn item(seq: i64) -> ReceiptOutboxItem {
        let id = MessageId::new();
        let at = time::macros::datetime!(2026-12-03 08:00 UTC);
        let cq = RegionId::parse("CQ").unwrap();
        let receipt = Receipt::issue(
            Hop::Retrieval,
            id,
            Sha256::digest(b"e"),
            cq,
            None,
            at,
            &SigningKey::generate(),
        );
        ReceiptOutboxItem {
            seq,
            message_id: id,
            peer: RegionId::parse("SC").unwrap(),
            receipt,
            agreement_sha256: Sha256::digest(b"a"),
            attempts: 0,
            trace_id: Some(format!("{:032x}", seq + 1)),
        }
    }

    /// What the older peer took: each receipt's message id and `traceparent` header.
    type Taken = Arc<Mutex<Vec<(String, Option<String>)>>>;

    /// A peer from before the batch route: the single route, taking what the real one
    /// takes (the bare receipt, strictly, with its trace in a `traceparent` header) and
    /// answering as it does, and the federation API's own answer for unknown paths.
    /// Keeps each receipt's message id and traceparent.
    async fn older_peer(taken: Taken) -> String {
        crate::tls::install_default_provider();
        let single = post(
            move |headers: axum::http::HeaderMap, Json(receipt): Json<Receipt>| async move {
                let trace = headers
                    .get(trace::HEADER)
                    .map(|v| v.to_str().unwrap().to_owned());
                let id = receipt.message_id.to_string();
                taken.lock().unwrap().push((id.clone(), trace));
                Json(json!({"messageId": id, "hop": "retrieval", "stored": true}))
            },
        );
        let app = axum::Router::new()
            .route(PATH, single)
            .fallback(crate::http::problem::not_found);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_peer_without_the_batch_route_gets_the_receipts_one_by_one() {
        let taken = Arc::new(Mutex::new(Vec::new()));
        let base = older_peer(taken.clone()).await;
        let trip = Trip {
            url: format!("{base}{BATCH_PATH}"),
            single: format!("{base}{PATH}"),
            client: reqwest::Client::new(),
            items: vec![item(1), item(2)],
        };
        let outcomes = attempt(&trip).await;
        assert_eq!(outcomes, vec![Ok(()), Ok(())]);
        // Each as the single route takes it, in order, with its message's trace id.
        let sent: Vec<(String, Option<String>)> = trip
            .items
            .iter()
            .map(|i| (i.message_id.to_string(), i.trace_id.clone()))
            .collect();
        let got: Vec<(String, Option<String>)> = taken
            .lock()
            .unwrap()
            .iter()
            .map(|(id, traceparent)| {
                let trace = traceparent.as_deref().and_then(|t| t.split('-').nth(1));
                (id.clone(), trace.map(str::to_owned))
            })
            .collect();
        assert_eq!(got, sent);
    }

    #[tokio::test]
    async fn a_peer_with_neither_route_refuses_each_receipt_for_good() {
        let base = older_peer(Arc::default()).await;
        let trip = Trip {
            url: format!("{base}/nowhere/batch"),
            single: format!("{base}/nowhere"),
            client: reqwest::Client::new(),
            items: vec![item(1)],
        };
        let outcomes = attempt(&trip).await;
        let [Err((error, retry))] = &outcomes[..] else {
            panic!("{outcomes:?}")
        };
        assert!(error.contains("not_found"), "{error}");
        assert!(!retry);
    }
}
