//! A small, honest simulator of a court's case system: it polls its gateway inbox, and
//! answers each request addressed to it the way a court clerk would (accept, then the
//! result), using realistic documents from the schema fixtures.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::api::UpdateSubmission;
use crate::client::CourtClient;
use crate::ids::{Family, MessageKind};
use crate::schema::embedded_fixtures;

/// A simulated court system.
pub struct CourtSystem {
    /// Its gateway client.
    pub client: CourtClient,
    /// How often it looks at its inbox.
    pub poll: Duration,
}

/// The first must-pass fixture of `schema` for which `pick` holds.
pub fn fixture(schema: &str, pick: impl Fn(&Value) -> bool) -> Option<Value> {
    embedded_fixtures()
        .filter(|f| f.valid && f.schema == schema)
        .filter_map(|f| f.document().ok())
        .find(|doc| pick(doc))
}

fn field_is(doc: &Value, name: &str, value: &str) -> bool {
    doc.get(name).and_then(Value::as_str) == Some(value)
}

/// The updates a court sends back for a request of `family`, in order.
pub fn answers(family: Family) -> Vec<(MessageKind, Value)> {
    let kind =
        |doc: &str| MessageKind::parse(&format!("{family}.{doc}")).expect("a valid kind literal");
    let now = crate::clock::rfc3339(time::OffsetDateTime::now_utc());
    let accepted = json!({"status": "accepted", "at": now, "note": "已收到委托，正在办理 (received, in hand)"});
    let mut out = vec![(kind("status"), accepted)];
    let mut push = |doc: &str, schema: &str, pick: &dyn Fn(&Value) -> bool| {
        if let Some(payload) = fixture(schema, pick) {
            out.push((kind(doc), payload));
        }
    };
    match family {
        Family::Service => push("result", "service-result", &|d| {
            field_is(d, "status", "served")
        }),
        Family::Printing => {
            for event in ["printed", "posted", "delivered"] {
                push("event", "printing-event", &|d| field_is(d, "event", event));
            }
        }
        Family::Evidence => push("result", "evidence-result", &|d| {
            field_is(d, "type", "completion")
        }),
        Family::Preservation => push("result", "preservation-result", &|d| {
            field_is(d, "status", "frozen")
        }),
    }
    out
}

impl CourtSystem {
    /// Polls the inbox until `stop` turns true, answering every request it finds.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut cursor = 0;
        loop {
            match self.client.inbox(cursor, 50).await {
                Ok(page) => {
                    for item in page.items {
                        if item.kind.is_request() {
                            for (kind, payload) in answers(item.kind.family()) {
                                let update = UpdateSubmission {
                                    kind,
                                    schema_version: None,
                                    payload,
                                    attachments: vec![],
                                };
                                if let Err(e) = self.client.update(item.request_id, &update).await {
                                    tracing::warn!(request = %item.request_id, error = %e, "court system could not answer");
                                }
                            }
                        }
                    }
                    cursor = page.next_cursor;
                }
                Err(e) => tracing::warn!(error = %e, "court system could not read its inbox"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
