//! Tests of trips sent as batches: a peer without the batch route, a batch refused whole.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::response::IntoResponse;
use axum::routing::post;

use super::*;
use crate::api::RelayAnswer;
use crate::crypto::SigningKey;
use crate::http::federation::BATCH_PATH;
use crate::ids::{MessageId, Sha256};
use crate::observe::trace;
use crate::problem::Code;
use crate::receipt::{Hop, Receipt};

/// What the peer took on its single route: each message id and `traceparent`.
type Taken = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A peer whose batch route answers `batch_status` as a whole (404 as a kuayu from
/// before it does, for an unknown path), and whose single route answers each message
/// with a relay receipt signed with `key`. Counts the batches tried.
async fn peer(
    batch_status: u16,
    key: Arc<SigningKey>,
    taken: Taken,
    tried: Arc<AtomicUsize>,
) -> String {
    crate::tls::install_default_provider();
    let single = post(move |headers: axum::http::HeaderMap, body: String| {
        let (taken, key) = (Arc::clone(&taken), Arc::clone(&key));
        async move {
            let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let traceparent = headers
                .get(trace::HEADER)
                .map(|v| v.to_str().unwrap().to_owned());
            taken.lock().unwrap().push((id.clone(), traceparent));
            let receipt = Receipt::issue(
                Hop::Relay,
                MessageId::parse(&id).unwrap(),
                Sha256::digest(body.as_bytes()),
                RegionId::parse("CQ").unwrap(),
                None,
                time::macros::datetime!(2026-12-05 08:00 UTC),
                &key,
            );
            Json(RelayAnswer { receipt })
        }
    });
    let batch = post(move || {
        tried.fetch_add(1, Ordering::Relaxed);
        async move {
            match batch_status {
                404 => crate::http::problem::not_found().await.into_response(),
                _ => Problem::new(Code::BadRequest, "not a batch").into_response(),
            }
        }
    });
    let app = axum::Router::new()
        .route("/federation/v1/messages", single)
        .route(BATCH_PATH, batch);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn ready(base: &str, key: &Arc<SigningKey>, seq: i64) -> Ready {
    let envelope = crate::envelope::tests::sample();
    let text = serde_json::to_string(&envelope).unwrap();
    let item = OutboxItem {
        seq,
        message_id: envelope.id,
        request_id: envelope.id,
        peer: RegionId::parse("CQ").unwrap(),
        priority: envelope.priority.rank(),
        digest: Sha256::digest(text.as_bytes()),
        attempts: 0,
        trace_id: Some(format!("{:032x}", seq + 1)),
    };
    let route = Route {
        agreement: Sha256::digest(b"terms"),
        client: reqwest::Client::new(),
        base: base.to_owned(),
        key: key.public(),
    };
    Ready {
        item,
        envelope: envelope.into(),
        text,
        route,
    }
}

/// Each answer's message id, if it is a receipt.
fn receipts(answered: &[(Ready, Answer)]) -> Vec<(MessageId, Option<MessageId>)> {
    answered
        .iter()
        .map(|(r, answer)| {
            let id = match answer {
                Answer::Receipt(a) => Some(a.receipt.message_id),
                _ => None,
            };
            (r.item.message_id, id)
        })
        .collect()
}

/// The message ids and trace ids the peer took one by one.
fn taken_ids(taken: &Taken) -> Vec<(String, Option<String>)> {
    let taken = taken.lock().unwrap();
    taken
        .iter()
        .map(|(id, traceparent)| {
            let trace = traceparent.as_deref().and_then(|t| t.split('-').nth(1));
            (id.clone(), trace.map(str::to_owned))
        })
        .collect()
}

#[tokio::test]
async fn a_peer_without_the_batch_route_gets_the_messages_one_by_one_and_is_not_asked_again() {
    let (key, taken, tried) = (
        Arc::new(SigningKey::generate()),
        Taken::default(),
        Arc::default(),
    );
    let base = peer(404, key.clone(), taken.clone(), Arc::clone(&tried)).await;
    let singles = Singles::default();
    let group = vec![ready(&base, &key, 1), ready(&base, &key, 2)];
    let sent: Vec<(String, Option<String>)> = group
        .iter()
        .map(|r| (r.item.message_id.to_string(), r.item.trace_id.clone()))
        .collect();
    let answered = send_group(&singles, group).await;
    for (id, receipt) in receipts(&answered) {
        assert_eq!(Some(id), receipt, "each answered with its own receipt");
    }
    let mut got = taken_ids(&taken);
    got.sort();
    let mut want = sent;
    want.sort();
    assert_eq!(got, want, "each on the single route, with its trace");
    assert_eq!(tried.load(Ordering::Relaxed), 1);
    assert!(singles.only(&RegionId::parse("CQ").unwrap()));
    // The next trip goes one by one without asking again.
    let answered = send_group(&singles, vec![ready(&base, &key, 3), ready(&base, &key, 4)]).await;
    assert_eq!(
        receipts(&answered)
            .iter()
            .filter(|(_, r)| r.is_some())
            .count(),
        2
    );
    assert_eq!(tried.load(Ordering::Relaxed), 1);
    assert_eq!(taken.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn a_batch_refused_whole_as_malformed_is_sent_again_one_by_one() {
    let (key, taken, tried) = (
        Arc::new(SigningKey::generate()),
        Taken::default(),
        Arc::default(),
    );
    let base = peer(400, key.clone(), taken.clone(), Arc::clone(&tried)).await;
    let singles = Singles::default();
    let answered = send_group(&singles, vec![ready(&base, &key, 1), ready(&base, &key, 2)]).await;
    for (id, receipt) in receipts(&answered) {
        assert_eq!(Some(id), receipt);
    }
    assert_eq!(taken.lock().unwrap().len(), 2);
    // The peer has the route: the next trip asks it again.
    assert!(!singles.only(&RegionId::parse("CQ").unwrap()));
    send_group(&singles, vec![ready(&base, &key, 3), ready(&base, &key, 4)]).await;
    assert_eq!(tried.load(Ordering::Relaxed), 2);
}
