//! The certificate of service (送达回证) as a document a court can print and file with
//! the case: rendered from the signed `service.result` of each addressee, with
//! the way it was served (channel evidence or postal tracking), every attempt, and the
//! seal that makes it verifiable (message id, envelope SHA-256, sealing gateway and
//! signature, relay receipt).

use std::fmt::Write as _;

use serde_json::Value;

use crate::store::RequestView;

/// The certificates of `view`'s request: one section per addressee certified so far (a
/// request to several addressees has one certificate each), or none if there is none yet.
pub fn render(view: &RequestView) -> Option<String> {
    let request = view.messages.iter().find(|m| m.id == view.record.id)?;
    let results: Vec<_> = view
        .messages
        .iter()
        .filter(|m| m.kind.as_str() == "service.result")
        .collect();
    if results.is_empty() {
        return None;
    }
    let q = &request.envelope["payload"];
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"zh\"><head><meta charset=\"utf-8\"><title>送达回证 Certificate of service</title>\n\
         <style>body{font-family:serif;max-width:48em;margin:2em auto}td{padding:.3em .8em;vertical-align:top;border-bottom:1px solid #ccc}th{text-align:left;white-space:nowrap;padding-right:1em}section{break-after:page;margin-bottom:3em}</style></head><body>\n",
    );
    let addressees = view.addressees();
    let total = addressees.len().max(1);
    for (n, result) in results.iter().enumerate() {
        let heading = if total > 1 {
            format!("送达回证 Certificate of service ({} / {total})", n + 1)
        } else {
            "送达回证 Certificate of service".to_owned()
        };
        writeln!(html, "<section>\n<h1>{}</h1>\n<table>", escape(&heading)).ok();
        for (label, value) in rows(view, q, result) {
            writeln!(
                html,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(label),
                escape(&value)
            )
            .ok();
        }
        html.push_str("</table>\n</section>\n");
    }
    let waiting: Vec<&str> = addressees
        .iter()
        .filter(|a| !a.certified())
        .map(|a| a.name.as_str())
        .collect();
    if !waiting.is_empty() {
        writeln!(
            html,
            "<p>尚未出具送达回证 Not yet certified: {}</p>",
            escape(&waiting.join(", "))
        )
        .ok();
    }
    html.push_str(
        "<p>The signed envelope named in each certificate is the record; verify it with the sealing region's message key in the agreement (GET /v1/agreements).</p>\n</body></html>\n",
    );
    Some(html)
}

/// The rows of one certificate: the case, the addressee, how it was served, every
/// attempt, and the signed message it rests on.
fn rows(
    view: &RequestView,
    q: &Value,
    result: &crate::store::MessageRecord,
) -> Vec<(&'static str, String)> {
    let (c, e) = (&result.envelope["payload"], &result.envelope);
    let mut rows: Vec<(&str, String)> = vec![
        ("案号 Case", text(&q["case"]["number"])),
        (
            "委托法院 Requesting court",
            view.record.requesting_court.to_string(),
        ),
        (
            "受托法院 Serving court",
            view.record.requested_court.to_string(),
        ),
        ("受送达人 Addressee", text(&c["addresseeName"])),
        ("送达结果 Status", text(&c["status"])),
        ("送达方式 Method", text(&c["method"])),
        ("送达时间 Served at", text(&c["servedAt"])),
        (
            "送达文书 Documents served",
            list(&c["documentsServed"]).join(", "),
        ),
    ];
    if c["receivedBy"].is_object() {
        let by = format!(
            "{} ({})",
            text(&c["receivedBy"]["name"]),
            text(&c["receivedBy"]["relation"])
        );
        rows.push(("签收人 Received by", by));
    }
    if c["postal"].is_object() {
        let p = &c["postal"];
        let mut postal = format!("{} {}", text(&p["carrier"]), text(&p["trackingNumber"]));
        for (label, field) in [("posted", "postedAt"), ("returned", "returnedAt")] {
            if p[field].is_string() {
                write!(postal, ", {label} {}", text(&p[field])).ok();
            }
        }
        rows.push(("邮寄 Postal", postal));
    }
    if c["channelEvidence"].is_object() {
        let ch = &c["channelEvidence"];
        let evidence = format!(
            "{} → {}, sent {}, delivered {}{}",
            text(&ch["sender"]),
            text(&ch["receiver"]),
            text(&ch["sentAt"]),
            text(&ch["deliveredAt"]),
            ch["readAt"]
                .as_str()
                .map(|r| format!(", read {r}"))
                .unwrap_or_default()
        );
        rows.push(("电子送达凭证 Channel evidence", evidence));
    }
    let attempts: Vec<String> = c["attempts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{} {} {}",
                text(&a["at"]),
                text(&a["method"]),
                text(&a["outcome"])
            )
        })
        .collect();
    if !attempts.is_empty() {
        rows.push(("送达经过 Attempts", attempts.join("; ")));
    }
    if c["reason"].is_object() {
        rows.push(("未送达原因 Reason", text(&c["reason"]["text"])));
    }
    rows.push(("报文 Message", result.id.to_string()));
    rows.push((
        "报文摘要 Envelope SHA-256",
        result.envelope_sha256.to_string(),
    ));
    rows.push((
        "签章 Sealed by",
        format!(
            "gateway {} (Ed25519 {})",
            text(&e["signature"]["region"]),
            text(&e["signature"]["value"])
        ),
    ));
    let relay = view
        .receipts
        .iter()
        .find(|r| r.message_id == result.id && r.hop == crate::receipt::Hop::Relay);
    if let Some(r) = relay {
        rows.push((
            "回执 Relay receipt",
            format!("{} at {}", r.issuer, crate::clock::rfc3339(r.at)),
        ));
    }
    rows
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

fn list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
