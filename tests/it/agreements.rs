//! Agreements as living documents: loaded through the admin API with no restart,
//! amended from an effective date, revoked on both sides with open work returned.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kuayu::demo::court::CourtSystem;
use kuayu::problem::Code;
use serde_json::Value;
use tokio::sync::watch;

use crate::support::*;

fn now(t: &TestFed) -> time::OffsetDateTime {
    kuayu::clock::Clock::now(&*t.clock)
}

/// Every agreement hash the request's messages were sealed under, at one gateway.
async fn hashes(
    client: &kuayu::client::CourtClient,
    id: kuayu::ids::MessageId,
) -> BTreeSet<String> {
    let view = client.request(id).await.unwrap();
    let mut out: BTreeSet<String> = view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["envelope"]["agreement"]["sha256"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    out.insert(view["agreementSha256"].as_str().unwrap().to_owned());
    out
}

#[tokio::test]
async fn an_agreement_loaded_through_the_admin_api_takes_effect_mid_stream_with_nothing_lost_or_mixed()
 {
    let t = TestFed::start().await;
    let (stop, stopped) = watch::channel(false);
    let answering = tokio::spawn(
        CourtSystem {
            client: t.court("CQ0103"),
            poll: Duration::from_millis(10),
        }
        .run(stopped.clone()),
    );
    // The court tries SMS first and falls back to the post: Chongqing's print centre works too.
    let printing = tokio::spawn(
        kuayu::demo::printcentre::PrintCentreSystem {
            client: t.fed.print_centre_client("CQ01-PC1").unwrap(),
            poll: Duration::from_millis(10),
        }
        .run(stopped),
    );
    let at = now(&t);
    let v2 = t
        .fed
        .amendment(|terms| {
            terms.title.push_str(" (amended: larger attachments)");
            terms.limits.max_attachments = 30;
            terms.effective_from = Some(at);
        })
        .unwrap();

    // A stream of requests from Jinjiang, flowing while the amendment is loaded.
    let sent = Arc::new(AtomicUsize::new(0));
    let stream = {
        let (sc, sent) = (t.court("SC0104"), Arc::clone(&sent));
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..24 {
                ids.push(
                    submit(&sc, &submission("service.request", "CQ0103"))
                        .await
                        .request_id,
                );
                sent.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
            ids
        })
    };
    eventually("the stream to be flowing", || async {
        (sent.load(Ordering::SeqCst) >= 6).then_some(())
    })
    .await;
    for region in ["CQ", "SC"] {
        let s = t
            .fed
            .admin(region, "alice")
            .unwrap()
            .load(&v2)
            .await
            .unwrap();
        assert_eq!((s.version, s.status.as_str()), (2, "active"), "{region}");
    }
    let ids = stream.await.unwrap();

    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let mut used = BTreeSet::new();
    for id in &ids {
        reaches(&sc, *id, "completed").await;
        let (here, there) = (hashes(&sc, *id).await, hashes(&cq, *id).await);
        assert_eq!(
            here.len(),
            1,
            "request {id} used one agreement version at SC: {here:?}"
        );
        assert_eq!(here, there, "and the same one at CQ");
        used.extend(here);
    }
    let v1 = t.fed.agreement.terms.digest().unwrap().to_string();
    let v2 = v2.terms.digest().unwrap().to_string();
    assert_eq!(
        used,
        BTreeSet::from([v1, v2]),
        "the stream crossed the swap: some requests under each version"
    );
    let listed = t.fed.admin("SC", "alice").unwrap().list().await.unwrap();
    let statuses: Vec<(u32, &str)> = listed
        .iter()
        .map(|s| (s.version, s.status.as_str()))
        .collect();
    assert_eq!(statuses, [(1, "superseded"), (2, "active")]);
    let _ = stop.send(true);
    answering.await.unwrap();
    printing.await.unwrap();
    t.shutdown().await;
}

#[tokio::test]
async fn an_amendment_with_a_future_effective_date_activates_at_that_date() {
    let t = TestFed::start().await;
    let effective = now(&t) + time::Duration::days(3);
    let v2 = t
        .fed
        .amendment(|terms| terms.effective_from = Some(effective))
        .unwrap();
    for region in ["SC", "CQ"] {
        let s = t
            .fed
            .admin(region, "alice")
            .unwrap()
            .load(&v2)
            .await
            .unwrap();
        assert_eq!(s.status, "scheduled");
    }
    let sc = t.court("SC0104");
    let before = submit(&sc, &submission("service.request", "CQ0103")).await;
    let envelope = |view: &Value| view["messages"][0]["envelope"]["agreement"]["version"].as_u64();
    assert_eq!(
        envelope(&sc.request(before.request_id).await.unwrap()),
        Some(1)
    );
    reaches(&sc, before.request_id, "relayed").await;

    // One minute short of the date: still v1. At the date: v2, with no restart.
    t.clock
        .advance(time::Duration::days(3) - time::Duration::minutes(1));
    let still = submit(&sc, &submission("service.request", "CQ0103")).await;
    assert_eq!(
        envelope(&sc.request(still.request_id).await.unwrap()),
        Some(1)
    );
    t.clock.advance(time::Duration::minutes(1));
    let after = submit(&sc, &submission("service.request", "CQ0103")).await;
    assert_eq!(
        envelope(&sc.request(after.request_id).await.unwrap()),
        Some(2)
    );
    reaches(&sc, after.request_id, "relayed").await;
    let statuses: Vec<String> = t
        .fed
        .admin("CQ", "alice")
        .unwrap()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(statuses, ["superseded", "active"]);

    // The request opened under v1 finishes under v1.
    let result = kuayu::api::UpdateSubmission {
        kind: kuayu::ids::MessageKind::parse("service.result").unwrap(),
        schema_version: None,
        payload: valid("service-result"),
        attachments: vec![],
    };
    accept(&t.court("CQ0103"), before.request_id, "service").await;
    let answer = t
        .court("CQ0103")
        .update(before.request_id, &result)
        .await
        .unwrap();
    let view = reaches(&sc, before.request_id, "completed").await;
    let last = view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == answer.message_id.to_string())
        .unwrap();
    assert_eq!(last["envelope"]["agreement"]["version"], 1);
    t.shutdown().await;
}

#[tokio::test]
async fn revocation_stops_new_traffic_on_both_sides_and_returns_in_flight_work_with_a_reason() {
    let mut t = TestFed::start().await;
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    // Open on both sides: delivered, not yet answered.
    let delivered = submit(&sc, &submission("service.request", "CQ0103")).await;
    reaches(&sc, delivered.request_id, "relayed").await;
    // Accepted by Sichuan, still in its outbox: Chongqing is down while it is sent.
    t.fed.stop("CQ").await;
    let queued = submit(&sc, &submission("evidence.request", "CQ0103")).await;
    eventually("a failed delivery attempt", || async {
        let outbox = t
            .fed
            .gateway("SC")
            .gateway
            .store
            .due_outbox(i64::MAX, 10, &[])
            .await
            .ok()?;
        outbox.iter().any(|o| o.attempts > 0).then_some(())
    })
    .await;
    t.fed.restart("CQ").await.unwrap();

    let report = t
        .fed
        .admin("SC", "alice")
        .unwrap()
        .revoke("SC-CQ-2026", "the cooperation is suspended pending review")
        .await
        .unwrap();
    assert_eq!(report.returned, 2, "{report:?}");
    assert!(
        report.peers.iter().all(|p| p.told),
        "Chongqing was told: {report:?}"
    );

    // Both of Sichuan's requests are back with Jinjiang, with the reason.
    for id in [delivered.request_id, queued.request_id] {
        assert_eq!(sc.request(id).await.unwrap()["state"], "returned");
    }
    let notices: Vec<Value> = sc
        .inbox(0, 50)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|i| i.notice)
        .collect();
    assert_eq!(notices.len(), 2);
    assert!(notices.iter().all(|n| {
        n["status"] == "returned"
            && n["reason"]["code"] == "agreement_revoked"
            && n["reason"]["text"]
                .as_str()
                .unwrap()
                .contains("suspended pending review")
    }));
    // Chongqing returned its open work too, and told Yuzhong why.
    assert_eq!(
        t.court("CQ0103")
            .request(delivered.request_id)
            .await
            .unwrap()["state"],
        "returned"
    );
    let cq_notice = cq
        .inbox(0, 50)
        .await
        .unwrap()
        .items
        .into_iter()
        .find_map(|i| i.notice)
        .expect("a notice at Yuzhong");
    assert_eq!(cq_notice["reason"]["code"], "agreement_revoked");

    // No new traffic either way: neither gateway accepts, and a peer that still tries is refused.
    let p = problem(
        sc.submit(&submission("service.request", "CQ0103"), None)
            .await,
    );
    assert!(p.is(Code::UnknownAgreement), "{p}");
    let p = problem(
        t.court("CQ01")
            .submit(&submission("preservation.request", "SC01"), None)
            .await,
    );
    assert!(p.is(Code::UnknownAgreement), "{p}");
    // The revoked agreement's trust anchors left the TLS trust store at once: a peer that
    // still tries does not get past the handshake.
    let refused = t.relay_handshake_fails("SC", "CQ").await;
    assert!(refused.contains("UnknownCA"), "{refused}");
    // Revocation survives a restart.
    t.fed.stop("CQ").await;
    t.fed.restart("CQ").await.unwrap();
    let listed = t.fed.admin("CQ", "bob").unwrap().list().await.unwrap();
    assert_eq!(listed[0].status, "revoked");
    assert_eq!(listed[0].revoked.as_ref().unwrap().by, "gateway:SC");
    t.shutdown().await;
}

#[tokio::test]
async fn admin_actions_are_audited_with_who_did_them_and_bad_agreements_are_refused() {
    let t = TestFed::start().await;
    let admin = t.fed.admin("SC", "alice").unwrap();
    // Signatures can arrive one at a time: pending until every party has signed.
    let mut partly = t
        .fed
        .amendment(|terms| terms.title.push_str(" v2"))
        .unwrap();
    let cq_signature = partly
        .signatures
        .iter()
        .find(|s| s.region.as_str() == "CQ")
        .cloned()
        .unwrap();
    partly.signatures.retain(|s| s.region.as_str() == "SC");
    let s = admin.load(&partly).await.unwrap();
    assert_eq!(
        (s.status.as_str(), s.missing_signatures.len()),
        ("pending_signatures", 1)
    );
    let mut cq_only = partly.clone();
    cq_only.signatures = vec![cq_signature];
    let s = admin.load(&cq_only).await.unwrap();
    assert_eq!(
        (s.status.as_str(), s.missing_signatures.len()),
        ("active", 0),
        "the signatures were merged"
    );

    let mut tampered = partly.clone();
    tampered.terms.limits.max_payload_bytes += 1;
    let p = problem(admin.load(&tampered).await);
    assert!(
        p.is(Code::BadRequest) && p.detail.contains("tampered"),
        "{p}"
    );

    let log = t.audit_log("SC").await;
    let loads: Vec<&str> = log
        .iter()
        .filter(|e| e.action == "agreement.loaded")
        .map(|e| e.actor.as_str())
        .collect();
    assert_eq!(loads, ["config", "admin:alice", "admin:alice"]);
    t.shutdown().await;
}

#[tokio::test]
async fn a_peer_that_loaded_a_newer_version_first_is_asked_to_retry_not_refused() {
    let t = TestFed::start().await;
    let v2 = t.fed.amendment(|_| {}).unwrap();
    t.fed.admin("SC", "alice").unwrap().load(&v2).await.unwrap();
    let mut e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    e.agreement.version = 2;
    e.agreement.sha256 = v2.terms.digest().unwrap();
    let (status, body) = t.relay_as("SC", "CQ", e.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("agreement_pending")),
        "{body}"
    );
    assert!(body["retryAfter"].as_u64().is_some());
    t.fed.admin("CQ", "bob").unwrap().load(&v2).await.unwrap();
    let (status, body) = t.relay_as("SC", "CQ", e).await;
    assert_eq!(status, 200, "{body}");
    t.shutdown().await;
}

#[tokio::test]
async fn schema_v1_and_v2_both_pass_during_the_migration_window_and_v1_is_refused_after_it() {
    use kuayu::agreement::{SchemaPin, VersionWindow};
    use kuayu::ids::MessageKind;
    let t = TestFed::start().await;
    let until = now(&t) + time::Duration::days(7);
    let catalog = kuayu::schema::SchemaCatalog::embedded().unwrap();
    let v2_schema = kuayu::envelope::SchemaRef {
        id: "service-request".into(),
        version: 2,
    };
    let migration = t
        .fed
        .amendment(|terms| {
            let rule = terms
                .kinds
                .get_mut(&MessageKind::parse("service.request").unwrap())
                .unwrap();
            rule.versions = vec![
                VersionWindow {
                    version: 1,
                    from: None,
                    until: Some(until),
                },
                VersionWindow {
                    version: 2,
                    from: None,
                    until: None,
                },
            ];
            terms.schemas.push(SchemaPin {
                id: "service-request".into(),
                version: 2,
                sha256: catalog.get(&v2_schema).unwrap().sha256,
            });
        })
        .unwrap();
    for region in ["SC", "CQ"] {
        t.fed
            .admin(region, "alice")
            .unwrap()
            .load(&migration)
            .await
            .unwrap();
    }
    let v1_doc = kuayu::demo::court::fixture_of("service-request", 1, |_| true).unwrap();
    let v2_doc = kuayu::demo::court::fixture_of("service-request", 2, |_| true).unwrap();
    let versioned = |version: u32, payload: Value| {
        let mut s = submission("service.request", "CQ0103");
        s.schema_version = Some(version);
        s.payload = payload;
        s
    };
    let sc = t.court("SC0104");
    // During the window: both versions pass, each checked against its own schema.
    submit(&sc, &versioned(1, v1_doc.clone())).await;
    submit(&sc, &versioned(2, v2_doc.clone())).await;
    let p = problem(sc.submit(&versioned(2, v1_doc.clone()), None).await);
    assert!(
        p.is(Code::SchemaViolation)
            && p.errors
                .iter()
                .any(|e| e.keyword == "required" && e.pointer.is_empty()),
        "a v1 document is not a v2 one: {p}"
    );
    let sealed_in_window = {
        let mut e = t.envelope("service.request", "SC0104", "CQ0103", v1_doc.clone());
        e.schema.version = 1;
        e.agreement.version = 2;
        e.agreement.sha256 = migration.terms.digest().unwrap();
        e.created_at = until - time::Duration::minutes(1);
        e.expires_at = until + time::Duration::days(1);
        e
    };

    // After it: v1 is refused at the sender and at the receiver; v2 still passes.
    t.clock
        .advance(time::Duration::days(7) + time::Duration::minutes(1));
    let p = problem(sc.submit(&versioned(1, v1_doc.clone()), None).await);
    assert!(
        p.is(Code::SchemaViolation) && p.detail.contains("does not accept schema version 1"),
        "{p}"
    );
    submit(&sc, &versioned(2, v2_doc)).await;
    let mut late = sealed_in_window.clone();
    late.id = kuayu::ids::MessageId::new();
    late.created_at = now(&t);
    late.expires_at = now(&t) + time::Duration::days(1);
    let (status, body) = t.relay_as("SC", "CQ", late).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("schema_violation")),
        "{body}"
    );
    // The receiver's clock decides: a message that claims to have been sealed inside the
    // window (a backdated createdAt) is judged by when it arrives, after it.
    let (status, body) = t.relay_as("SC", "CQ", sealed_in_window).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("schema_violation")),
        "{body}"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn the_sample_agreement_takes_old_and_new_versions_until_its_migration_window_closes() {
    use kuayu::demo::court::fixture_of;
    let t = TestFed::start().await;
    let terms = &t.fed.agreement.terms;
    let kind = |k: &str| kuayu::ids::MessageKind::parse(k).unwrap();
    // The window the sample gives version 1 of every kind that has a newer version.
    let closes = terms.kinds[&kind("service.request")].versions[0]
        .until
        .expect("version 1 has a window");
    let versioned = |kind: &str, to: &str, version: u32, payload: Value| {
        let mut s = submission(kind, to);
        s.schema_version = Some(version);
        s.payload = payload;
        s
    };
    let requests = [
        ("service.request", "service-request", 3, "SC0104", "CQ0103"),
        (
            "printing.request",
            "printing-request",
            2,
            "SC0104",
            "CQ0103",
        ),
        ("evidence.request", "evidence-request", 2, "SC01", "CQ01"),
        (
            "preservation.request",
            "preservation-request",
            2,
            "SC01",
            "CQ01",
        ),
    ];
    for (k, schema, new, _, _) in requests {
        let rule = &terms.kinds[&kind(k)];
        assert_eq!(rule.versions[0].until, Some(closes), "{k}");
        assert_eq!(
            terms.current_version(&kind(k), now(&t)),
            Some(new),
            "{k}: a submission without schemaVersion gets {schema}@{new}"
        );
    }
    // Inside the window: version 1 and the new version both pass.
    let mut open = Vec::new();
    for (k, schema, new, from, to) in requests {
        let court = t.court(from);
        let old = fixture_of(schema, 1, |_| true).unwrap();
        let current = fixture_of(schema, new, |_| true).unwrap();
        open.push(submit(&court, &versioned(k, to, 1, old)).await.request_id);
        open.push(
            submit(&court, &versioned(k, to, new, current))
                .await
                .request_id,
        );
    }
    // Results too: a version 1 freeze result for the version 1 order.
    let (sc01, cq01) = (t.court("SC01"), t.court("CQ01"));
    let freeze_v1 = open[6];
    reaches(&sc01, freeze_v1, "relayed").await;
    accept(&cq01, freeze_v1, "preservation").await;
    let mut result = update(
        "preservation.result",
        fixture_of("preservation-result", 1, |_| true).unwrap(),
    );
    result.schema_version = Some(1);
    cq01.update(freeze_v1, &result).await.unwrap();

    // After it: version 1 is refused at the sender, for requests and results alike.
    t.clock.set(closes + time::Duration::minutes(1));
    for (k, schema, new, from, to) in requests {
        let court = t.court(from);
        let old = fixture_of(schema, 1, |_| true).unwrap();
        let p = problem(court.submit(&versioned(k, to, 1, old), None).await);
        assert!(
            p.is(Code::SchemaViolation) && p.detail.contains("does not accept schema version 1"),
            "{k}: {p}"
        );
        let current = fixture_of(schema, new, |_| true).unwrap();
        submit(&court, &versioned(k, to, new, current)).await;
    }
    let evidence = open[5];
    reaches(&sc01, evidence, "relayed").await;
    accept(&cq01, evidence, "evidence").await;
    let completion = |version: u32| {
        let mut u = update(
            "evidence.result",
            fixture_of("evidence-result", version, |d| d["type"] == "completion").unwrap(),
        );
        u.schema_version = Some(version);
        u
    };
    let p = problem(cq01.update(evidence, &completion(1)).await);
    assert!(p.detail.contains("does not accept schema version 1"), "{p}");
    cq01.update(evidence, &completion(2)).await.unwrap();
    // And at the receiver: a version 1 order sealed now is refused there too.
    let mut late = t.envelope(
        "preservation.request",
        "SC01",
        "CQ01",
        fixture_of("preservation-request", 1, |_| true).unwrap(),
    );
    late.schema.version = 1;
    let (status, body) = t.relay_as("SC", "CQ", late).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("schema_violation")),
        "{body}"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn an_admin_listener_with_tls_requires_an_administrator_certificate() {
    use kuayu::ids::{CourtId, RegionId};
    use kuayu::tls::Identity;
    let t = TestFed::start().await;
    let sc = RegionId::parse("SC").unwrap();
    let url = format!("https://{}", t.fed.gateway("SC").admin_addr.unwrap());
    let ca = t.fed.pki.pem(&sc, "admin-ca.crt").unwrap();
    let alice = Identity::load(
        &t.fed.pki.dir.join("SC/admins/alice.crt"),
        &t.fed.pki.dir.join("SC/admins/alice.key"),
    )
    .unwrap();
    let client = kuayu::admin::client::AdminClient::tls(&url, &ca, &alice).unwrap();
    let v2 = t
        .fed
        .amendment(|terms| terms.title.push_str(" v2"))
        .unwrap();
    assert_eq!(client.load(&v2).await.unwrap().status, "active");
    let log = t.audit_log("SC").await;
    assert!(
        log.iter()
            .any(|e| e.action == "agreement.loaded" && e.actor == "admin:alice"),
        "{log:?}"
    );
    // A court's certificate is from another CA: the handshake fails.
    let (cert, key) = t.fed.pki.court(&CourtId::parse("SC0104").unwrap());
    let court =
        kuayu::admin::client::AdminClient::tls(&url, &ca, &Identity::load(&cert, &key).unwrap())
            .unwrap();
    assert!(matches!(
        court.list().await,
        Err(kuayu::client::ClientError::Transport(_))
    ));
    t.shutdown().await;
}
