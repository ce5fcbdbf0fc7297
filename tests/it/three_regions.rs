//! Three regions: the Sichuan gateway serves the Sichuan–Chongqing and the
//! Sichuan–Guizhou agreements side by side. Each request goes under the agreement
//! joining Sichuan with the recipient's region; a partner under one agreement cannot
//! send under the other, nor reach the other partner's courts; and what one agreement
//! sets (a Cedar policy, a rate, a deadline) leaves the other alone.

use kuayu::agreement::model::{Period, PolicyDoc, Rate};
use kuayu::agreement::{Agreement, Terms};
use kuayu::devnet::DevOptions;
use kuayu::envelope::{AgreementRef, Envelope};
use kuayu::ids::MessageId;
use kuayu::problem::Code;
use serde_json::Value;

use crate::support::*;

const SC_GZ: &str = "SC-GZ-2026";

async fn three(amend: Option<kuayu::devnet::TermsChange>) -> TestFed {
    TestFed::start_with(time::macros::datetime!(2026-11-25 08:00 UTC), |o| {
        let clock = o.clock.clone();
        *o = DevOptions::three_regions(clock);
        o.amend = amend;
    })
    .await
}

/// The agreement with id `id` in the federation.
fn agreement<'a>(t: &'a TestFed, id: &str) -> &'a Agreement {
    t.fed
        .agreements
        .iter()
        .map(|(a, _)| a)
        .find(|a| a.terms.id.as_str() == id)
        .unwrap()
}

/// `e` re-addressed to travel under `a` (its reference and the schema it pins).
fn under(t: &TestFed, a: &Agreement, mut e: Envelope) -> Envelope {
    let now = kuayu::clock::Clock::now(&*t.clock);
    let terms = &a.terms;
    let version = terms.current_version(&e.kind, now).unwrap_or(1);
    if let Some(schema) = terms.schema_for(&e.kind, version, now) {
        e.schema = schema;
    }
    e.agreement = AgreementRef {
        id: terms.id.clone(),
        version: terms.version,
        sha256: terms.digest().unwrap(),
    };
    e
}

fn agreement_of(view: &Value) -> &str {
    view["agreementId"].as_str().unwrap_or_default()
}

/// Nothing of message `id` was stored at `region`: no receipt, no audit entry, and the
/// audit log is as long as before.
async fn nothing_stored(t: &TestFed, region: &str, id: MessageId, audit_before: usize) {
    let store = &t.fed.gateway(region).gateway.store;
    assert!(store.inbound_receipt(&id).await.unwrap().is_none());
    assert_eq!(t.audit_log(region).await.len(), audit_before);
}

#[tokio::test]
async fn sichuan_sends_to_guizhou_and_chongqing_each_under_its_own_agreement() {
    let t = three(None).await;
    // The SC gateway has both agreements active; CQ and GZ each only their own.
    let ids = |v: Value| -> Vec<String> {
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let sc = t.court("SC0104");
    assert_eq!(
        ids(sc.agreements().await.unwrap()),
        ["SC-CQ-2026", "SC-GZ-2026"]
    );
    assert_eq!(
        ids(t.court("CQ0103").agreements().await.unwrap()),
        ["SC-CQ-2026"]
    );
    assert_eq!(
        ids(t.court("GZ0102").agreements().await.unwrap()),
        ["SC-GZ-2026"]
    );

    let to_gz = submit(&sc, &submission("service.request", "GZ0102")).await;
    let to_cq = submit(&sc, &submission("service.request", "CQ0103")).await;
    let gz_view = reaches(&sc, to_gz.request_id, "relayed").await;
    let cq_view = reaches(&sc, to_cq.request_id, "relayed").await;
    assert_eq!(agreement_of(&gz_view), SC_GZ);
    assert_eq!(agreement_of(&cq_view), "SC-CQ-2026");

    // Each lands in its own court's inbox, and nowhere else.
    let gz = t.court("GZ0102");
    let cq = t.court("CQ0103");
    let gz_inbox = gz.inbox(0, 50).await.unwrap().items;
    let cq_inbox = cq.inbox(0, 50).await.unwrap().items;
    assert_eq!(
        gz_inbox.iter().map(|i| i.request_id).collect::<Vec<_>>(),
        [to_gz.request_id]
    );
    assert_eq!(
        cq_inbox.iter().map(|i| i.request_id).collect::<Vec<_>>(),
        [to_cq.request_id]
    );
    assert_eq!(
        gz_inbox[0].envelope_value().unwrap()["agreement"]["id"],
        SC_GZ
    );
    // The relay receipt comes from the gateway that took it, signed with its key.
    for (view, region) in [(&gz_view, "GZ"), (&cq_view, "CQ")] {
        assert!(
            view["receipts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["hop"] == "relay" && r["issuer"] == region),
            "{view}"
        );
    }

    // Both answer, each back under its own agreement.
    accept(&gz, to_gz.request_id, "service").await;
    accept(&cq, to_cq.request_id, "service").await;
    reaches(&sc, to_gz.request_id, "accepted").await;
    reaches(&sc, to_cq.request_id, "accepted").await;
    t.shutdown().await;
}

#[tokio::test]
async fn guizhou_cannot_send_under_the_sichuan_chongqing_agreement_nor_reach_a_chongqing_court() {
    let t = three(None).await;
    let sc_cq = agreement(&t, "SC-CQ-2026").clone();
    let sc_gz = agreement(&t, SC_GZ).clone();
    let audit = t.audit_log("SC").await.len();

    // As itself, under SC–CQ: GZ is no party to it.
    let e = under(
        &t,
        &sc_cq,
        t.envelope(
            "service.request",
            "GZ0102",
            "SC0104",
            valid("service-request"),
        ),
    );
    let id = e.id;
    let (status, body) = t.relay_as("GZ", "SC", e).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("identity_mismatch")),
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("GZ gateway") && detail.contains("not a party to agreement SC-CQ-2026"),
        "{detail}"
    );
    nothing_stored(&t, "SC", id, audit).await;

    // Posing as Chongqing under SC–CQ, with its own certificate: refused just the same.
    let e = under(
        &t,
        &sc_cq,
        t.envelope(
            "preservation.request",
            "CQ01",
            "SC01",
            valid("preservation-request"),
        ),
    );
    let id = e.id;
    let (status, body) = t.relay_as("GZ", "SC", e).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("identity_mismatch")),
        "{body}"
    );
    nothing_stored(&t, "SC", id, audit).await;

    // Under its own agreement, to a Chongqing court through Sichuan: SC–GZ names no CQ.
    let e = under(
        &t,
        &sc_gz,
        t.envelope(
            "preservation.request",
            "GZ01",
            "CQ01",
            valid("preservation-request"),
        ),
    );
    let id = e.id;
    let (status, body) = t.relay_as("GZ", "SC", e).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("kind_not_permitted")),
        "{body}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("from GZ to CQ"),
        "{body}"
    );
    nothing_stored(&t, "SC", id, audit).await;

    // Nor withdraw SC–CQ: a revocation notice is taken only from a party of it.
    for region in ["GZ", "CQ"] {
        let notice = serde_json::json!({
            "agreementId": sc_cq.terms.id,
            "version": sc_cq.terms.version,
            "sha256": sc_cq.terms.digest().unwrap(),
            "region": region,
            "reason": "not ours to withdraw",
            "at": "2026-11-25T08:00:00.000Z",
        });
        let url = format!(
            "https://{}/federation/v1/revocations",
            t.fed.gateway("SC").federation_addr
        );
        let (status, body) = post_raw(&t.as_gateway("GZ", "SC"), &url, &notice).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("identity_mismatch")),
            "notice as {region}: {body}"
        );
    }
    assert_eq!(t.audit_log("SC").await.len(), audit);
    let listed = t.court("SC0104").agreements().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

    // Straight to the Chongqing gateway: its federation listener trusts no GZ anchor.
    let cq_audit = t.audit_log("CQ").await.len();
    for a in [&sc_cq, &sc_gz] {
        let body = t.seal(
            under(
                &t,
                a,
                t.envelope(
                    "preservation.request",
                    "GZ01",
                    "CQ01",
                    valid("preservation-request"),
                ),
            ),
            "GZ",
        );
        let refused = t
            .as_gateway("GZ", "CQ")
            .post(t.federation_url("CQ"))
            .json(&body)
            .send()
            .await;
        assert!(
            refused.is_err(),
            "the CQ gateway must refuse GZ's handshake: {refused:?}"
        );
    }
    assert_eq!(t.audit_log("CQ").await.len(), cq_audit);
    assert!(t.court("CQ01").inbox(0, 50).await.unwrap().items.is_empty());
    assert!(t.court("SC01").inbox(0, 50).await.unwrap().items.is_empty());
    assert!(
        t.court("SC0104")
            .inbox(0, 50)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // What GZ may do, it can: a preservation order under SC–GZ to a Sichuan court.
    let e = under(
        &t,
        &sc_gz,
        t.envelope(
            "preservation.request",
            "GZ01",
            "SC01",
            valid("preservation-request"),
        ),
    );
    let (status, body) = t.relay_as("GZ", "SC", e).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(t.court("SC01").inbox(0, 50).await.unwrap().items.len(), 1);
    t.shutdown().await;
}

/// SC–GZ only: printing requests are forbidden by a Cedar policy, one service request
/// per court an hour, and three working days to acknowledge.
fn guizhou_only(t: &mut Terms) {
    if t.id.as_str() != SC_GZ {
        return;
    }
    t.policies.push(PolicyDoc {
        id: "no-remote-printing-in-guizhou".into(),
        description: "Guizhou takes no remote print jobs under this agreement".into(),
        cedar: "forbid(principal, action == Action::\"printing.request\", resource);".into(),
    });
    t.limits.rate = Some(Rate {
        messages: 1,
        per_seconds: 3600,
    });
    t.deadlines
        .insert("acknowledge".into(), Period::WorkingDays(3));
}

fn due(view: &Value, name: &str) -> String {
    view["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no {name} deadline: {view}"))["dueAt"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_policy_rate_and_deadline_of_the_guizhou_agreement_leave_chongqing_alone() {
    let t = three(Some(Box::new(guizhou_only))).await;
    let sc = t.court("SC0104");

    // Cedar: denied towards Guizhou, at Sichuan and (sent as a peer) at Guizhou.
    let p = problem(
        sc.submit(&submission("printing.request", "GZ0102"), None)
            .await,
    );
    assert!(
        p.is(Code::PolicyDenied) && p.policies == ["no-remote-printing-in-guizhou"],
        "{p}"
    );
    let e = under(
        &t,
        agreement(&t, SC_GZ),
        t.envelope(
            "printing.request",
            "SC0104",
            "GZ0102",
            valid("printing-request"),
        ),
    );
    let (status, body) = t.relay_as("SC", "GZ", e).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("policy_denied")),
        "{body}"
    );
    // ... and allowed towards Chongqing.
    submit(&sc, &submission("printing.request", "CQ0103")).await;

    // Rate: the second service request to Guizhou within the hour waits; Chongqing's do not.
    let first_gz = submit(&sc, &submission("service.request", "GZ0102")).await;
    let p = problem(
        sc.submit(&submission("service.request", "GZ0102"), None)
            .await,
    );
    assert!(p.is(Code::RateLimited), "{p}");
    assert!(p.detail.contains(SC_GZ), "{p}");
    let mut to_cq = Vec::new();
    for _ in 0..3 {
        to_cq.push(submit(&sc, &submission("service.request", "CQ0103")).await);
    }

    // Deadlines: three working days to acknowledge under SC–GZ, one under SC–CQ, counted
    // from each executing gateway's commit.
    let gz_view = reaches(&sc, first_gz.request_id, "relayed").await;
    let cq_view = reaches(&sc, to_cq[0].request_id, "relayed").await;
    // Wednesday 2026-11-25 16:00 in UTC+8: one working day ends Thursday 24:00, three
    // end Monday 24:00.
    assert_eq!(due(&cq_view, "acknowledge"), "2026-11-26T16:00:00.000Z");
    assert_eq!(due(&gz_view, "acknowledge"), "2026-11-30T16:00:00.000Z");
    t.shutdown().await;
}
