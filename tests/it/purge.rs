//! Retention: with the agreement's `retention.payloadDays` at 1, `kuayu purge` (the real
//! binary, beside the running gateway, on SQLite and on PostgreSQL) takes the payloads
//! and the attachment of a request finished more than a day before (by the controllable
//! clock, passed as `--at`) and keeps its digests, receipts, history, deadlines and audit
//! log, which `kuayu audit verify` and a proof bundle still check; a request still open
//! or finished since, or whose last message its court has not read, is untouched;
//! `--dry-run` lists what would go and changes nothing;
//! the purge is one audit entry.

use kuayu::agreement::Retention;
use kuayu::clock::{Clock, rfc3339};
use kuayu::ids::{MessageId, RegionId};
use kuayu::store::sql::Location;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::backup::kuayu;
use crate::support::*;

/// SC and CQ under an agreement keeping payloads one day; SC's store at `sc_database`
/// (SQLite by default).
async fn federation(sc_database: Option<Location>) -> TestFed {
    TestFed::start_with(datetime!(2026-11-25 08:00 UTC), move |o| {
        o.amend = Some(Box::new(|terms| {
            terms.retention = Some(Retention { payload_days: 1 });
        }));
        if let Some(l) = sc_database {
            o.databases.insert(RegionId::parse("SC").unwrap(), l);
        }
    })
    .await
}

/// Runs `kuayu purge` on SC's store as of the test clock's now, off the runtime's thread:
/// whether it succeeded, and what it printed.
async fn purge_sc(t: &TestFed, dry_run: bool) -> (bool, String) {
    let config = t.fed.configs[&RegionId::parse("SC").unwrap()].clone();
    let at = rfc3339(t.clock.now());
    let out = tokio::task::spawn_blocking(move || {
        let mut args = vec!["purge", "--config", config.to_str().unwrap(), "--at", &at];
        if dry_run {
            args.push("--dry-run");
        }
        kuayu(&args)
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Both courts read their inboxes (every message retrieved, so none waits for them).
async fn read_inboxes(t: &TestFed) {
    for court in ["SC0104", "CQ0103"] {
        t.court(court).inbox(0, 500).await.unwrap();
    }
}

/// Chongqing's court reads its inbox (Sichuan's does not).
async fn cq_reads(t: &TestFed) {
    t.court("CQ0103").inbox(0, 500).await.unwrap();
}

/// A service request SC0104 → CQ0103 that CQ0103 refuses.
async fn refused(t: &TestFed) -> MessageId {
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let id = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, id, "relayed").await;
    let status = json!({"status": "refused", "at": "2026-11-25T09:00:00Z", "reason": {"code": "test", "text": "not ours"}});
    cq.update(id, &update("service.status", status))
        .await
        .unwrap();
    reaches(&sc, id, "refused").await;
    id
}

/// The request's view at SC once CQ's retrieval receipt of it came back (carried back
/// apart from everything else: waited for, so that nothing changes during the checks).
async fn receipted(sc: &kuayu::client::CourtClient, id: MessageId) -> Value {
    eventually("CQ's retrieval receipt at SC", || async {
        let view = sc.request(id).await.ok()?;
        let receipts = view["receipts"].as_array()?;
        receipts
            .iter()
            .any(|r| r["hop"] == "retrieval" && r["issuer"] == "CQ")
            .then_some(view)
    })
    .await
}

/// The request's view at SC without what a purge takes: its messages' envelopes and what
/// is read from their payloads.
fn kept_part(view: &Value) -> Value {
    let mut v = view.clone();
    for m in v["messages"].as_array_mut().unwrap() {
        m.as_object_mut().unwrap().remove("envelope");
        m.as_object_mut().unwrap().remove("purged");
    }
    // Where each addressee stands is read from the payloads: it goes with them.
    v.as_object_mut().unwrap().remove("addressees");
    v.as_object_mut().unwrap().remove("purgedAt");
    v.as_object_mut().unwrap().remove("overdue");
    v
}

/// Where a blob's file is in the blob folder `blobs`.
fn blob_file(blobs: &std::path::Path, sha256: &str) -> std::path::PathBuf {
    blobs.join(&sha256[..2]).join(sha256)
}

async fn purges_only_what_retention_lets_go(sc_database: Option<Location>) {
    let t = federation(sc_database).await;
    let sc = t.court("SC0104");
    let finished = crate::bundle::completed_service(&t).await;
    let open = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, open, "relayed").await;
    read_inboxes(&t).await;
    let before = receipted(&sc, finished).await;
    receipted(&sc, open).await;
    let sha256 = before["messages"][0]["envelope"]["attachments"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let sc_blobs = t.fed.dir.join("SC").join("blobs");
    assert!(
        blob_file(&sc_blobs, &sha256).is_file(),
        "the attachment is held"
    );
    // Refused as well, but SC0104 has not read the refusal yet.
    let unread = refused(&t).await;
    cq_reads(&t).await;
    receipted(&sc, unread).await;

    // Two days on, another request finishes: within retention.
    t.clock.advance(time::Duration::days(2));
    let recent = refused(&t).await;
    cq_reads(&t).await;
    receipted(&sc, recent).await;
    // The open request's first deadline passed meanwhile: the watcher's entry is written.
    eventually("the open request marked overdue", || async {
        let log = t.audit_log("SC").await;
        log.iter()
            .any(|e| e.action == "request.overdue" && e.subject == open.to_string())
            .then_some(())
    })
    .await;
    let audit_before = t.audit_log("SC").await;

    // The dry run lists the finished request alone, and changes nothing.
    let (ok, said) = purge_sc(&t, true).await;
    assert!(ok, "{said}");
    assert!(
        said.contains("would purge 1 request(s)") && said.contains("1 attachment(s)"),
        "{said}"
    );
    assert!(said.contains(&finished.to_string()), "{said}");
    for kept in [open, recent, unread] {
        assert!(!said.contains(&kept.to_string()), "{said}");
    }
    assert!(said.contains("dry run: nothing was changed"), "{said}");
    assert_eq!(
        sc.request(finished).await.unwrap()["messages"],
        before["messages"]
    );
    assert!(blob_file(&sc_blobs, &sha256).is_file());
    assert_eq!(
        t.audit_log("SC").await,
        audit_before,
        "a dry run writes nothing"
    );

    // The purge, the gateway running.
    let (ok, said) = purge_sc(&t, false).await;
    assert!(ok, "{said}");
    assert!(
        said.contains("purged 1 request(s), 3 message(s), 1 attachment(s)"),
        "{said}"
    );
    let after = sc.request(finished).await.unwrap();
    assert!(after["purgedAt"].is_string(), "{after}");
    for m in after["messages"].as_array().unwrap() {
        assert_eq!(
            (&m["envelope"], &m["purged"]),
            (&Value::Null, &json!(true)),
            "{m}"
        );
    }
    assert_eq!(
        kept_part(&after),
        kept_part(&before),
        "digests, receipts, history, deadlines and state are kept"
    );
    for id in [open, recent, unread] {
        let view = sc.request(id).await.unwrap();
        assert!(view["purgedAt"].is_null(), "{view}");
        assert!(
            view["messages"][0]["envelope"]["payload"].is_object(),
            "{view}"
        );
    }
    // A retrieval receipt of a purged message (one sent again, say) can no longer be
    // checked against its envelope: SC refuses it as purged, not as unknown.
    let message = finished.to_string();
    let court = before["messages"][0]["envelope"]["recipient"]["court"]
        .as_str()
        .unwrap()
        .to_owned();
    let late = crate::evidence::sign(
        crate::evidence::receipt(
            &message,
            &crate::evidence::digest_of(&before, &message),
            &court,
        ),
        &crate::evidence::cq_key(&t),
    );
    let url = format!(
        "https://{}/federation/v1/receipts",
        t.fed.gateway("SC").federation_addr
    );
    let (got, refusal) = post_raw(&t.as_gateway("CQ", "SC"), &url, &late).await;
    assert_eq!(
        (got, refusal["code"].as_str()),
        (410, Some("payload_purged")),
        "{refusal}"
    );
    // The court's feed shows the purged messages without their envelopes.
    let feed = sc.inbox(0, 500).await.unwrap();
    let purged: Vec<_> = feed
        .items
        .iter()
        .filter(|i| i.request_id == finished)
        .collect();
    assert!(!purged.is_empty() && purged.iter().all(|i| i.purged && i.envelope.is_none()));
    // The attachment is gone from the store and the disk.
    assert!(
        !blob_file(&sc_blobs, &sha256).exists(),
        "the blob file is deleted"
    );
    let mut sink = Vec::new();
    let sha = kuayu::ids::Sha256::parse(&sha256).unwrap();
    let p = problem(sc.download(&sha, &mut sink).await);
    assert!(p.is(kuayu::problem::Code::NotFound), "{p}");

    // One audit entry, after the log as it was.
    let audit = t.audit_log("SC").await;
    assert_eq!(&audit[..audit_before.len()], &audit_before[..]);
    let new: Vec<_> = audit[audit_before.len()..]
        .iter()
        .filter(|e| e.action == "retention.purged")
        .collect();
    assert_eq!(new.len(), 1, "{audit:?}");
    assert_eq!(new[0].subject, t.fed.agreement.terms.id.to_string());
    assert_eq!(
        (
            &new[0].detail["requests"],
            &new[0].detail["messages"],
            &new[0].detail["attachments"]
        ),
        (&json!(1), &json!(3), &json!(1))
    );
    assert_eq!(
        new[0].detail["cutoff"],
        json!(rfc3339(t.clock.now() - time::Duration::days(1)))
    );

    // The store still verifies, and the request's bundle says what was purged.
    let config = t.fed.configs[&RegionId::parse("SC").unwrap()].clone();
    let c = config.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || kuayu(&["audit", "verify", "--config", &c]))
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && report.ends_with("ok\n"), "{report}");
    let (status, bundle) = t
        .raw("SC0104")
        .get(&format!("/v1/requests/{finished}/bundle"))
        .await;
    assert_eq!(status, 200, "{bundle}");
    assert_eq!(bundle["envelopes"], json!([]));
    assert_eq!(bundle["purged"].as_array().unwrap().len(), 3, "{bundle}");
    let file = t.fed.dir.join("purged-bundle.json");
    std::fs::write(&file, serde_json::to_string_pretty(&bundle).unwrap()).unwrap();
    let pki = t.fed.pki.dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        kuayu(&[
            "bundle",
            "verify",
            file.to_str().unwrap(),
            "--roots",
            pki.to_str().unwrap(),
        ])
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{report}");
    assert!(report.contains("3 envelope(s) purged"), "{report}");
    // And so does the Python verifier, written from docs/BUNDLE.md.
    if crate::python_client::python_ready() {
        let (file, pki) = (t.fed.dir.join("purged-bundle.json"), t.fed.pki.dir.clone());
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python");
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("python3")
                .current_dir(script)
                .arg("kuayu_bundle.py")
                .arg(file)
                .arg("--roots")
                .arg(pki)
                .output()
                .expect("python3 runs")
        })
        .await
        .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            said.contains("3 envelope(s) purged") && said.contains("the bundle verifies"),
            "{said}"
        );
    }

    // Once SC0104 has read the refusal, the next purge takes that request too, alone;
    // then nothing is left, and a run that takes nothing writes nothing.
    sc.inbox(0, 500).await.unwrap();
    let (ok, said) = purge_sc(&t, false).await;
    assert!(
        ok && said.contains("purged 1 request(s), 2 message(s), 0 attachment(s)"),
        "{said}"
    );
    assert!(said.contains(&unread.to_string()), "{said}");
    assert!(sc.request(unread).await.unwrap()["purgedAt"].is_string());
    let audit = t.audit_log("SC").await;
    let (ok, said) = purge_sc(&t, false).await;
    assert!(ok && said.contains("purged 0 request(s)"), "{said}");
    assert_eq!(t.audit_log("SC").await.len(), audit.len());
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_takes_finished_payloads_past_retention_and_keeps_the_proof_on_sqlite() {
    purges_only_what_retention_lets_go(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_takes_finished_payloads_past_retention_and_keeps_the_proof_on_postgres() {
    if let Some(l) = crate::engines::fresh_postgres().await {
        purges_only_what_retention_lets_go(Some(l)).await;
    }
}

#[tokio::test]
async fn an_agreement_without_retention_keeps_everything_and_a_purge_cannot_run_ahead() {
    // The samples keep payloads three years; this agreement leaves retention out.
    let t = TestFed::start_with(datetime!(2026-11-25 08:00 UTC), |o| {
        o.amend = Some(Box::new(|terms| terms.retention = None));
    })
    .await;
    crate::bundle::completed_service(&t).await;
    read_inboxes(&t).await;
    t.clock.advance(time::Duration::days(4000));
    let (ok, said) = purge_sc(&t, true).await;
    assert!(ok, "{said}");
    assert!(
        said.contains("no retention set: payloads kept for ever"),
        "{said}"
    );
    // A real purge as of a time still to come is refused.
    let config = t.fed.configs[&RegionId::parse("SC").unwrap()].clone();
    let out = kuayu(&[
        "purge",
        "--config",
        config.to_str().unwrap(),
        "--at",
        "2999-01-01T00:00:00Z",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("never ahead of the clock"));
    t.shutdown().await;
}

#[tokio::test]
async fn with_purge_daily_the_gateway_purges_by_itself_once_its_clock_passes_a_day() {
    let t = TestFed::start_with(datetime!(2026-11-25 08:00 UTC), |o| {
        o.amend = Some(Box::new(|terms| {
            terms.retention = Some(Retention { payload_days: 1 });
        }));
        o.purge_daily = true;
    })
    .await;
    let sc = t.court("SC0104");
    let finished = crate::bundle::completed_service(&t).await;
    read_inboxes(&t).await;
    receipted(&sc, finished).await;
    // The purge at start found nothing; within the day, nothing goes.
    t.clock.advance(time::Duration::hours(20));
    assert!(sc.request(finished).await.unwrap()["purgedAt"].is_null());
    // A day after the first, the next one runs: the request finished two days before.
    t.clock.advance(time::Duration::days(2));
    let view = eventually("the gateway's own purge", || async {
        let view = sc.request(finished).await.ok()?;
        view["purgedAt"].is_string().then_some(view)
    })
    .await;
    assert!(
        view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["purged"] == true)
    );
    let audit = t.audit_log("SC").await;
    let purges: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "retention.purged")
        .collect();
    assert_eq!(purges.len(), 1, "{purges:?}");
    assert_eq!(purges[0].actor, "system");
    t.shutdown().await;
}
