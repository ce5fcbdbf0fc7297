//! Identity comes only from the certificate, on every route: a certificate issued under
//! the right trust anchor but naming another party is refused by every federation route,
//! and a client certificate not issued for client authentication fails the handshake.

use kuayu::ids::{CourtId, RegionId};
use kuayu::pki::DevCa;
use kuayu::tls::Participant;
use serde_json::json;

use crate::support::*;

/// Certificates under Sichuan's federation CA (Sichuan's trust anchor in the agreement)
/// that do not name Sichuan's gateway.
fn impostors(t: &TestFed) -> Vec<(&'static str, reqwest::Client)> {
    let sc = RegionId::parse("SC").unwrap();
    let named = [
        (
            "names the CQ gateway",
            Some(Participant::Gateway(RegionId::parse("CQ").unwrap())),
        ),
        (
            "names a court",
            Some(Participant::Court(CourtId::parse("SC0104").unwrap())),
        ),
        ("names nobody", None),
    ];
    named
        .into_iter()
        .map(|(what, who)| {
            let stem = what.replace(' ', "-");
            let (cert, key) = t
                .fed
                .pki
                .issue_client(&sc, DevCa::Federation, &stem, who.as_ref(), true)
                .unwrap();
            (what, t.peer_client("CQ", &cert, &key))
        })
        .collect()
}

#[tokio::test]
async fn every_federation_route_refuses_a_certificate_under_the_right_anchor_naming_another_identity()
 {
    let t = TestFed::start().await;
    let cq = t.fed.gateway("CQ").federation_addr;
    let envelope = t.seal(
        t.envelope(
            "service.request",
            "SC0104",
            "CQ0103",
            valid("service-request"),
        ),
        "SC",
    );
    let notice = json!({
        "agreementId": t.fed.agreement.terms.id,
        "version": t.fed.agreement.terms.version,
        "sha256": t.fed.agreement.terms.digest().unwrap(),
        "region": "SC",
        "reason": "impostor",
        "at": "2026-11-25T08:00:00.000Z",
    });
    let blob = "a".repeat(64);
    for (what, client) in impostors(&t) {
        for (route, body) in [
            ("/federation/v1/messages", &envelope),
            ("/federation/v1/revocations", &notice),
        ] {
            let (status, problem) = post_raw(&client, &format!("https://{cq}{route}"), body).await;
            assert!(
                matches!(
                    problem["code"].as_str(),
                    Some("identity_mismatch" | "unauthenticated")
                ) && (status == 403 || status == 401),
                "{route}, a certificate that {what}: {status} {problem}"
            );
        }
        let url = format!("https://{cq}/federation/v1/attachments/{blob}");
        let head = client.head(&url).send().await.unwrap();
        assert!(
            matches!(head.status().as_u16(), 401 | 403),
            "HEAD attachments, a certificate that {what}: {}",
            head.status()
        );
        let put = client.put(&url).body("bytes").send().await.unwrap();
        assert!(
            matches!(put.status().as_u16(), 401 | 403),
            "PUT attachments, a certificate that {what}: {}",
            put.status()
        );
    }
    // Sichuan's own gateway certificate passes the same routes.
    let (status, answer) = t.post_as("SC", "CQ", &envelope).await;
    assert_eq!(status, 200, "{answer}");
    assert!(t.court("CQ0103").inbox(0, 50).await.unwrap().items.len() == 1);
    t.shutdown().await;
}

#[tokio::test]
async fn a_court_certificate_without_the_client_auth_usage_fails_the_handshake() {
    let t = TestFed::start().await;
    let sc = RegionId::parse("SC").unwrap();
    let who = Participant::Court(CourtId::parse("SC0104").unwrap());
    let (cert, key) = t
        .fed
        .pki
        .issue_client(&sc, DevCa::Court, "court-without-eku", Some(&who), false)
        .unwrap();
    let anchors = kuayu::tls::parse_certs(&t.fed.pki.pem(&sc, "court-ca.crt").unwrap()).unwrap();
    let client = kuayu::tls::http_client(
        &anchors,
        &kuayu::tls::Identity::load(&cert, &key).unwrap(),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    let url = format!("https://{}/v1/inbox", t.fed.gateway("SC").court_addr);
    let err = client
        .get(&url)
        .send()
        .await
        .expect_err("handshake must fail");
    let text = kuayu::client::error_text(&err);
    assert!(
        text.contains("alert") || text.contains("certificate"),
        "{text}"
    );
    // The same court with its proper certificate (clientAuth) gets in.
    t.court("SC0104").inbox(0, 10).await.unwrap();
    t.shutdown().await;
}
