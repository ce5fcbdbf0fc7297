//! Certificate revocation lists are checked on every handshake and reloaded without a
//! restart: a court or a peer gateway whose certificate its CA revoked fails its next
//! handshake, while everyone else goes on.

use kuayu::ids::{CourtId, RegionId};
use kuayu::pki::DevCa;

use crate::support::*;

#[tokio::test]
async fn a_certificate_listed_in_a_reloaded_crl_fails_its_next_handshake_without_a_restart() {
    let t = TestFed::start().await;
    let (sc, cq) = (
        RegionId::parse("SC").unwrap(),
        RegionId::parse("CQ").unwrap(),
    );
    let jinjiang = CourtId::parse("SC0104").unwrap();
    t.court("SC0104").inbox(0, 10).await.unwrap();

    // Sichuan's court CA revokes Jinjiang's certificate, and Chongqing's federation CA
    // revokes Chongqing's gateway certificate; Sichuan's administrator reloads.
    let (court_cert, _) = t.fed.pki.court(&jinjiang);
    t.fed.pki.revoke(&sc, DevCa::Court, &[&court_cert]).unwrap();
    let cq_gateway = t.fed.pki.file(&cq, "gateway.crt");
    t.fed
        .pki
        .revoke(&cq, DevCa::Federation, &[&cq_gateway])
        .unwrap();
    // Not in force before the reload: the files are read at start and on reload only.
    t.court("SC0104").inbox(0, 10).await.unwrap();
    let report = t
        .fed
        .admin("SC", "alice")
        .unwrap()
        .reload_tls()
        .await
        .unwrap();
    assert_eq!(report["reloaded"], true, "{report}");

    let err = t.court("SC0104").inbox(0, 10).await.unwrap_err();
    assert!(
        err.to_string().contains("CertificateRevoked") || err.to_string().contains("revoked"),
        "{err}"
    );
    // Another court of the same CA goes on.
    t.court("SC01").inbox(0, 10).await.unwrap();
    // Chongqing's gateway certificate no longer opens Sichuan's federation listener.
    let refused = t.relay_handshake_fails("CQ", "SC").await;
    assert!(refused.contains("Revoked"), "{refused}");
    // The reload is in the audit log with who asked for it.
    let log = t.audit_log("SC").await;
    assert!(
        log.iter()
            .any(|e| e.action == "tls.reload" && e.actor == "admin:alice"),
        "{log:?}"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_reload_that_cannot_read_its_files_keeps_the_previous_ones_in_force() {
    let t = TestFed::start().await;
    let sc = RegionId::parse("SC").unwrap();
    std::fs::write(t.fed.pki.crl(&sc, DevCa::Court), "not a CRL").unwrap();
    let p = problem(t.fed.admin("SC", "alice").unwrap().reload_tls().await);
    assert!(p.detail.contains("court CA revocation list"), "{p}");
    t.court("SC0104").inbox(0, 10).await.unwrap();
    t.shutdown().await;
}
