//! A small, honest simulator of a court's case system: it polls its gateway inbox, and
//! answers each request addressed to it the way a court clerk would (accept, then the
//! result; a filing it acknowledges, then dockets under its own case number), using
//! realistic documents from the schema fixtures. For a commissioned
//! service it tries SMS first, and the addressee turns out never to have consented, so
//! the service falls back to the post (see [`super::printcentre`]).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::api::UpdateSubmission;
use crate::client::CourtClient;
use crate::envelope::AttachmentRef;
use crate::ids::{Family, MessageKind, Sha256};
use crate::schema::embedded_fixtures;

/// A simulated court system.
pub struct CourtSystem {
    /// Its gateway client.
    pub client: CourtClient,
    /// How often it looks at its inbox.
    pub poll: Duration,
}

/// The first must-pass fixture of `schema` for which `pick` holds, newest schema version
/// first (the version a submission without `schemaVersion` is checked against, while the
/// agreement accepts it).
pub fn fixture(schema: &str, pick: impl Fn(&Value) -> bool) -> Option<Value> {
    let mut all: Vec<_> = embedded_fixtures()
        .filter(|f| f.valid && f.schema == schema)
        .collect();
    all.sort_by_key(|f| std::cmp::Reverse(f.version));
    all.into_iter()
        .filter_map(|f| f.document().ok())
        .find(|doc| pick(doc))
}

/// The first must-pass fixture of `schema` version `version` for which `pick` holds.
pub fn fixture_of(schema: &str, version: u32, pick: impl Fn(&Value) -> bool) -> Option<Value> {
    embedded_fixtures()
        .filter(|f| f.valid && f.schema == schema && f.version == version)
        .filter_map(|f| f.document().ok())
        .find(|doc| pick(doc))
}

fn field_is(doc: &Value, name: &str, value: &str) -> bool {
    doc.get(name).and_then(Value::as_str) == Some(value)
}

/// The updates a court sends back for a request of `family` carrying `request`, in order.
pub fn answers(family: Family, request: &Value) -> Vec<(MessageKind, Value)> {
    let kind =
        |doc: &str| MessageKind::parse(&format!("{family}.{doc}")).expect("a valid kind literal");
    let now = crate::clock::rfc3339(time::OffsetDateTime::now_utc());
    let accepted = json!({"status": "accepted", "at": now, "note": "已收到委托，正在办理 (received, in hand)"});
    // A filing is not "accepted" (受理 is docketing): the court says it has it, then dockets.
    let mut out = if family == Family::Filing {
        Vec::new()
    } else {
        vec![(kind("status"), accepted)]
    };
    let mut push = |doc: &str, schema: &str, pick: &dyn Fn(&Value) -> bool| {
        if let Some(payload) = fixture(schema, pick) {
            out.push((kind(doc), payload));
        }
    };
    match family {
        Family::Service => {
            let addressee = &request["addressees"][0];
            let phone = addressee["addresses"]["phone"]
                .as_str()
                .unwrap_or("13800000000");
            let attempt = json!({
                "addresseeName": addressee["name"], "channel": "sms", "address": phone,
                "outcome": "no_consent", "at": now,
                "reason": {"code": "no_consent", "text": "受送达人未确认电子送达地址 (no consent to electronic service)"},
            });
            out.push((kind("attempt"), attempt));
        }
        Family::Printing => {
            for event in ["printed", "posted", "delivered"] {
                push("event", "printing-event", &|d| field_is(d, "event", event));
            }
        }
        Family::Evidence => push("result", "evidence-result", &|d| {
            field_is(d, "type", "completion")
        }),
        Family::Preservation if field_is(request, "mode", "lift") => {
            push("result", "preservation-result", &|d| {
                field_is(d, "status", "lifted")
            })
        }
        Family::Preservation => push("result", "preservation-result", &|d| {
            field_is(d, "status", "frozen")
        }),
        Family::Filing => {
            for step in ["received", "docketed"] {
                push("result", "filing-result", &|d| field_is(d, "type", step));
            }
            for (_, payload) in &mut out {
                payload["at"] = json!(now);
            }
        }
    }
    out
}

/// A docketed filing numbered as the court `court` numbers its cases this year, e.g.
/// `（2026）川0104民初8421号` for SC0104.
pub fn own_case_number(court: &str, payload: &mut Value) {
    let Some(code) = crate::ids::CourtId::parse(court)
        .ok()
        .and_then(|c| crate::workflow::filing::case_number_court(&c))
    else {
        return;
    };
    if field_is(payload, "type", "docketed") {
        let year = time::OffsetDateTime::now_utc().year();
        payload["caseNumber"] = json!(format!("（{year}）{code}民初8421号"));
    }
}

/// The interview record the evidence court system returns: a short text document.
pub fn interview_record() -> Vec<u8> {
    "询问笔录 (interview record)\n\n时间：2026年12月16日14时30分\n地点：重庆市第一中级人民法院第三询问室\n\
     被询问人：冯玉梅（证人）\n\n问：你是否知道被告向原告借款一事？\n答：知道。被告曾对我说，那笔款项是向原告借的。\n\n\
     以上笔录经被询问人核对无误，签字确认。\n"
        .as_bytes()
        .to_vec()
}

/// Scans the filer's materials as the assisting court does: for each material a filing
/// lists, a small text stands in for the scan; it is uploaded to `client`'s gateway, the
/// material's `sha256` set to its digest, and an attachment listed for the envelope.
pub async fn scan_materials(
    client: &CourtClient,
    payload: &mut Value,
) -> anyhow::Result<Vec<AttachmentRef>> {
    let mut out = Vec::new();
    let Some(materials) = payload.get_mut("materials").and_then(Value::as_array_mut) else {
        return Ok(out);
    };
    for m in materials {
        let text = |f: &str| m[f].as_str().unwrap_or_default().to_owned();
        let (doc_id, title, kind) = (text("docId"), text("title"), text("type"));
        let bytes = format!("{title}（扫描件 scan of {kind}, {doc_id}）\n").into_bytes();
        let sha256 = Sha256::digest(&bytes);
        let size = bytes.len() as u64;
        let stream =
            futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))]);
        client.upload_stream(&sha256, stream, Some(size)).await?;
        m["sha256"] = json!(sha256);
        out.push(AttachmentRef {
            doc_id,
            title,
            doc_type: kind,
            sha256,
            bytes: size,
            pages: m["pages"].as_u64().and_then(|p| u32::try_from(p).ok()),
            media_type: "text/plain; charset=utf-8".to_owned(),
        });
    }
    Ok(out)
}

impl CourtSystem {
    /// An evidence completion carries its record as a file: upload it, name it in the
    /// result and list it on the envelope. Anything else goes as it is.
    async fn with_files(
        &self,
        kind: &MessageKind,
        mut payload: Value,
    ) -> (Value, Vec<AttachmentRef>) {
        if kind.as_str() != "evidence.result" || !field_is(&payload, "type", "completion") {
            return (payload, Vec::new());
        }
        let bytes = interview_record();
        let sha256 = Sha256::digest(&bytes);
        let size = bytes.len() as u64;
        let stream =
            futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))]);
        if let Err(e) = self.client.upload_stream(&sha256, stream, Some(size)).await {
            tracing::warn!(error = %e, "court system could not upload the interview record");
            return (payload, Vec::new());
        }
        let doc_id = "interview-record-1";
        payload["records"] = json!([{
            "type": "interview_record", "itemIndex": 0, "docId": doc_id, "sha256": sha256,
            "obtainedAt": "2026-12-16T14:30:00+08:00", "source": "证人冯玉梅", "pages": 1,
        }]);
        let attachment = AttachmentRef {
            doc_id: doc_id.to_owned(),
            title: "询问笔录（冯玉梅）".to_owned(),
            doc_type: "interview_record".to_owned(),
            sha256,
            bytes: size,
            pages: Some(1),
            media_type: "text/plain; charset=utf-8".to_owned(),
        };
        (payload, vec![attachment])
    }

    /// Polls the inbox until `stop` turns true, answering every request it finds.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut cursor = 0;
        loop {
            match self.client.inbox(cursor, 50).await {
                Ok(page) => {
                    for item in page.items {
                        if item.kind.is_request() {
                            let envelope = item.envelope_value().unwrap_or_default();
                            let request = envelope["payload"].clone();
                            let own = envelope["recipient"]["court"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned();
                            for (kind, mut payload) in answers(item.kind.family(), &request) {
                                own_case_number(&own, &mut payload);
                                let (payload, attachments) = self.with_files(&kind, payload).await;
                                let update = UpdateSubmission {
                                    kind,
                                    schema_version: None,
                                    payload,
                                    attachments,
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
