//! The API reference's examples come from a real run, and real answers fit the reference:
//! one service request walks from submission through postal fallback to its certificate
//! between two real gateways, and every request and answer body on the way is checked
//! against its schema in the generated OpenAPI documents. The committed examples in
//! `docs/examples/` (which the OpenAPI documents and docs/API.md show) must fit them too.
//! `KUAYU_WRITE_EXAMPLES=1 cargo test --test it api_examples` rewrites the examples from
//! the run; then regenerate the OpenAPI documents (see `src/http/openapi/`), which embed them.

use kuayu::http::openapi;
use serde_json::{Value, json};

use crate::support::*;

/// Checks `value` against component `schema` of the OpenAPI document `doc`.
/// (`[Name]`: an array of them.)
fn conforms(doc: &Value, schema: &str, value: &Value) -> Result<(), String> {
    let target = match schema.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        Some(item) => {
            json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}})
        }
        None => json!({"$ref": format!("#/components/schemas/{schema}")}),
    };
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [target],
        "components": doc["components"],
    });
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .map_err(|e| format!("the reference's {schema} does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {:?}", e, e.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{schema}: {}", errors.join("; ")))
    }
}

/// One example: its file name, the document and component it belongs to, the body.
struct Example {
    name: &'static str,
    federation: bool,
    schema: &'static str,
    body: Value,
}

fn ex(name: &'static str, schema: &'static str, body: Value) -> Example {
    Example {
        name,
        federation: false,
        schema,
        body,
    }
}

fn ok(want: u16, (status, body): (u16, Value)) -> Value {
    assert_eq!(status, want, "{body}");
    body
}

#[tokio::test]
async fn answers_from_a_real_run_fit_the_reference_and_are_its_examples() {
    let t = TestFed::start().await;
    let (sc, cq, centre) = (t.raw("SC0104"), t.raw("CQ0103"), t.raw("CQ01-PC1"));
    let mut out = Vec::new();

    let summons = "传票（2027年1月12日开庭）".as_bytes().to_vec();
    let sha = kuayu::ids::Sha256::digest(&summons);
    let stored = ok(
        201,
        sc.put(&format!("/v1/attachments/{sha}"), summons.clone())
            .await,
    );
    out.push(ex("put-attachment-201", "StoredAttachment", stored));

    let mut payload = valid("service-request");
    payload["documents"] = json!([{"docId": "summons-5678", "docType": "summons",
        "title": "传票（2027年1月12日开庭）", "sha256": sha, "pages": 1}]);
    let submission = json!({
        "kind": "service.request",
        "recipientCourt": "CQ0103",
        "payload": payload,
        "attachments": [{"docId": "summons-5678", "title": "传票", "docType": "summons",
            "sha256": sha, "bytes": summons.len(), "pages": 1, "mediaType": "text/plain"}],
    });
    out.push(ex("submit-request", "Submission", submission.clone()));
    let accepted = ok(202, sc.post("/v1/requests", &submission).await);
    let id = accepted["requestId"].as_str().unwrap().to_owned();
    out.push(ex("submit-202", "Accepted", accepted));

    let mut bad = submission.clone();
    bad["payload"]["case"]["number"] = json!("（2026)川0104民初5678号");
    let problem = ok(422, sc.post("/v1/requests", &bad).await);
    out.push(ex("problem-422-schema-violation", "Problem", problem));

    let inbox = eventually("the request in CQ0103's inbox", || async {
        let (_, page) = cq.get("/v1/inbox?after=0&limit=10").await;
        (!page["items"].as_array()?.is_empty()).then_some(page)
    })
    .await;
    out.push(ex("inbox-executing-court", "InboxPage", inbox));

    let accept = json!({"kind": "service.status", "payload": {"status": "accepted", "at": "2026-11-25T16:30:00+08:00", "note": "已立案登记，正在办理"}});
    out.push(ex("update-request", "UpdateSubmission", accept.clone()));
    let updated = ok(
        202,
        cq.post(&format!("/v1/requests/{id}/updates"), &accept)
            .await,
    );
    out.push(ex("update-202", "Accepted", updated));
    let sms = json!({"kind": "service.attempt", "payload": {"addresseeName": "王建国", "channel": "sms",
        "address": "13908312456", "outcome": "no_consent", "at": "2026-11-25T16:35:00+08:00",
        "reason": {"code": "no_consent", "text": "受送达人未同意电子送达"}}});
    ok(
        202,
        cq.post(&format!("/v1/requests/{id}/updates"), &sms).await,
    );

    let queue = eventually("the print job in the centre's work queue", || async {
        let (_, page) = centre.get("/v1/inbox?order=urgent&limit=10").await;
        (!page["items"].as_array()?.is_empty()).then_some(page)
    })
    .await;
    let job_id = queue["items"][0]["notice"]["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    out.push(ex("inbox-print-centre", "InboxPage", queue));
    let printed =
        json!({"jobId": job_id, "event": "printed", "at": "2026-11-26T09:00:00+08:00", "pages": 1});
    out.push(ex("print-event-request", "", printed.clone()));
    let answer = ok(
        202,
        centre
            .post(&format!("/v1/print-jobs/{job_id}/events"), &printed)
            .await,
    );
    out.push(ex("print-event-202", "JobAnswer", answer));
    for (event, extra) in [
        ("posted", json!({"trackingNumber": "1158472036518"})),
        (
            "delivered",
            json!({"signedBy": "王建国", "relation": "self"}),
        ),
    ] {
        let mut e = json!({"jobId": job_id, "event": event, "at": "2026-11-26T15:00:00+08:00"});
        e.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ok(
            202,
            centre
                .post(&format!("/v1/print-jobs/{job_id}/events"), &e)
                .await,
        );
    }
    out.push(ex(
        "print-job",
        "PrintJob",
        ok(200, centre.get(&format!("/v1/print-jobs/{job_id}")).await),
    ));

    let view = eventually("the certificate at the requesting court", || async {
        let (_, view) = sc.get(&format!("/v1/requests/{id}")).await;
        (view["state"] == "completed").then_some(view)
    })
    .await;
    out.push(ex("request-completed", "RequestAnswer", view));
    let late = json!({"kind": "service.status", "payload": {"status": "in_progress", "at": "2026-11-27T09:00:00+08:00"}});
    let problem = ok(
        409,
        cq.post(&format!("/v1/requests/{id}/updates"), &late).await,
    );
    out.push(ex("problem-409-illegal-transition", "Problem", problem));
    out.push(ex(
        "inbox-requesting-court",
        "InboxPage",
        ok(200, sc.get("/v1/inbox?after=0&limit=3").await),
    ));
    out.push(ex(
        "request-list",
        "RequestList",
        ok(200, sc.get("/v1/requests?limit=5").await),
    ));
    let agreements = ok(200, sc.get("/v1/agreements").await);
    assert!(agreements.as_array().is_some_and(|a| !a.is_empty()));
    out.push(ex("agreements", "[AgreementListing]", agreements));

    // Federation: a relayed envelope and the relay receipt it gets.
    let envelope = t.seal(
        t.envelope(
            "evidence.request",
            "SC01",
            "CQ01",
            valid("evidence-request"),
        ),
        "SC",
    );
    let relayed = ok(200, t.post_as("SC", "CQ", &envelope).await);
    out.push(Example {
        name: "federation-envelope",
        federation: true,
        schema: "Envelope",
        body: envelope,
    });
    out.push(Example {
        name: "federation-relay-200",
        federation: true,
        schema: "RelayAnswer",
        body: relayed,
    });

    let (court, federation) = (openapi::court(), openapi::federation());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples");
    let write = std::env::var_os("KUAYU_WRITE_EXAMPLES").is_some();
    let mut failures = Vec::new();
    for e in &out {
        let doc = if e.federation { &federation } else { &court };
        let path = dir.join(format!("{}.json", e.name));
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, serde_json::to_string_pretty(&e.body).unwrap() + "\n").unwrap();
        }
        let committed: Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        if e.schema.is_empty() {
            continue;
        }
        for (what, body) in [("this run's", &e.body), ("the committed", &committed)] {
            if let Err(why) = conforms(doc, e.schema, body) {
                failures.push(format!("{what} {}: {why}", e.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The check itself can fail.
    assert!(conforms(&court, "Accepted", &json!({"requestId": 1})).is_err());
    t.shutdown().await;
}
