//! The admin API is never unauthenticated: TLS with an administrator certificate, or its
//! Unix domain socket (the kernel names the caller); plain HTTP goes nowhere. Revocation
//! notices name the version and hash and carry a signed time; a stale or replayed one is
//! refused.

use kuayu::admin::revoke::Notice;
use kuayu::ids::RegionId;
use kuayu::pki::DevCa;
use kuayu::tls::Participant;
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn plain_http_to_the_admin_listener_is_refused_and_changes_nothing() {
    let t = TestFed::start().await;
    let addr = t.fed.gateway("SC").admin_addr.unwrap();
    let id = t.fed.agreement.terms.id.to_string();
    // What any local process (or a web page, by DNS rebinding) could send before.
    let attempt = reqwest::Client::new()
        .post(format!("http://{addr}/admin/v1/agreements/{id}/revoke"))
        .header("Kuayu-Admin", "mallory")
        .header("Host", "localhost")
        .json(&serde_json::json!({"reason": "gone"}))
        .send()
        .await;
    assert!(attempt.is_err() || attempt.unwrap().status().as_u16() >= 400);
    let listed = t.fed.admin("SC", "alice").unwrap().list().await.unwrap();
    assert!(listed.iter().all(|s| s.status == "active"), "{listed:?}");
    // The court API keeps working: nothing was revoked.
    submit(&t.court("SC0104"), &submission("service.request", "CQ0103")).await;
    t.shutdown().await;
}

#[tokio::test]
async fn a_certificate_under_the_admin_ca_that_names_no_administrator_is_refused() {
    let t = TestFed::start().await;
    let sc = RegionId::parse("SC").unwrap();
    let court = Participant::Court(kuayu::ids::CourtId::parse("SC0104").unwrap());
    let (cert, key) = t
        .fed
        .pki
        .issue_client(&sc, DevCa::Admin, "not-an-admin", Some(&court), true)
        .unwrap();
    let client = kuayu::admin::client::AdminClient::tls(
        &format!("https://{}", t.fed.gateway("SC").admin_addr.unwrap()),
        &t.fed.pki.pem(&sc, "admin-ca.crt").unwrap(),
        &kuayu::tls::Identity::load(&cert, &key).unwrap(),
    )
    .unwrap();
    let p = problem(client.list().await);
    assert_eq!((p.status, p.code.as_str()), (401, "unauthenticated"), "{p}");
    t.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_admin_socket_is_private_and_the_audit_log_names_the_operating_system_user() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let t = TestFed::start().await;
    let socket = t.fed.gateway("SC").admin_socket.clone().unwrap();
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "{}",
        socket.display()
    );
    let uid = meta.uid();
    let admin = t.fed.admin_socket("SC").unwrap();
    let v2 = t
        .fed
        .amendment(|terms| terms.title.push_str(" v2"))
        .unwrap();
    assert_eq!(admin.load(&v2).await.unwrap().status, "active");
    let log = t.audit_log("SC").await;
    let actor = log
        .iter()
        .rev()
        .find(|e| e.action == "agreement.loaded")
        .map(|e| e.actor.clone())
        .unwrap();
    assert!(
        actor.starts_with("admin:unix:") && actor.contains(&uid.to_string()),
        "{actor}"
    );
    t.shutdown().await;
}

/// A revocation notice from Sichuan for the agreement, signed with Sichuan's gateway key.
fn notice(t: &TestFed, at: time::OffsetDateTime) -> Value {
    let sc = RegionId::parse("SC").unwrap();
    let terms = &t.fed.agreement.terms;
    let mut n = Notice {
        agreement_id: terms.id.clone(),
        version: terms.version,
        sha256: terms.digest().unwrap(),
        region: sc.clone(),
        reason: "the cooperation ends".into(),
        at,
        signature: None,
    };
    n.signature = Some(
        t.fed
            .pki
            .message_key(&sc)
            .unwrap()
            .sign_canonical(&n)
            .unwrap(),
    );
    serde_json::to_value(&n).unwrap()
}

#[tokio::test]
async fn a_stale_or_replayed_revocation_notice_is_refused() {
    let t = TestFed::start().await;
    let now = kuayu::clock::Clock::now(&*t.clock);
    let url = format!(
        "https://{}/federation/v1/revocations",
        t.fed.gateway("CQ").federation_addr
    );
    let client = t.as_gateway("SC", "CQ");
    // Signed ten minutes ago: stale.
    let stale = notice(&t, now - time::Duration::minutes(10));
    let (status, p) = post_raw(&client, &url, &stale).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("clock_skew")),
        "{p}"
    );
    // Naming another hash: not the agreement CQ holds.
    let mut other = notice(&t, now);
    other["sha256"] = Value::String("0".repeat(64));
    let (status, p) = post_raw(&client, &url, &other).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("agreement_mismatch")),
        "{p}"
    );
    let fresh = notice(&t, now);
    let (status, answer) = post_raw(&client, &url, &fresh).await;
    assert_eq!(status, 200, "{answer}");
    // The same notice again, within the skew: taken once.
    let (status, p) = post_raw(&client, &url, &fresh).await;
    assert_eq!((status, p["code"].as_str()), (409, Some("replayed")), "{p}");
    let listed = t.fed.admin("CQ", "bob").unwrap().list().await.unwrap();
    assert_eq!(listed[0].status, "revoked");
    t.shutdown().await;
}
