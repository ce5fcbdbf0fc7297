//! The Python reference client (`examples/python/`), written from the docs alone, against
//! two real gateways: it signs an amendment whose times are written `+08:00` over its
//! terms as written, which both gateways activate, then walks a service request through
//! both as the two courts, checking every seal, receipt and digest with its own RFC 8785
//! and Ed25519 code. The test fails if the script exits non-zero.
//!
//! It needs `python3` with the `cryptography` package (`.ci/run` installs
//! examples/python/requirements.txt). Under CI (`CI` set) a missing one fails the test;
//! elsewhere the test says so and passes without running, so `cargo test` works on a
//! machine with only Rust.

use std::path::{Path, PathBuf};
use std::process::Command;

use kuayu::agreement::Agreement;
use kuayu::ids::{CourtId, RegionId};
use serde_json::json;

use crate::support::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `python3` with `cryptography` is here; under CI it must be.
pub(crate) fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have python3 with cryptography: .ci/run installs examples/python/requirements.txt"
        );
        eprintln!(
            "SKIPPED: python3 with the cryptography package is not installed \
             (pip install -r examples/python/requirements.txt)"
        );
    }
    ok
}

/// Runs the script off the runtime's thread, so the gateways keep serving meanwhile.
async fn python(args: &[&str], config: &Path) -> String {
    let mut command = Command::new("python3");
    command
        .current_dir(repo().join("examples/python"))
        .arg("kuayu_court.py")
        .args(args)
        .arg("--config")
        .arg(config);
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("python3 runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "python3 kuayu_court.py {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout.into_owned()
}

#[tokio::test]
async fn the_python_reference_client_signs_an_agreement_and_walks_a_request_through_two_gateways() {
    if !python_ready() {
        return;
    }
    let t = TestFed::start().await;
    let pki = &t.fed.pki;
    let mut regions = serde_json::Map::new();
    let mut courts = serde_json::Map::new();
    for r in ["SC", "CQ"] {
        let region = RegionId::parse(r).unwrap();
        regions.insert(
            r.to_owned(),
            json!({
                "courtApi": format!("https://{}", t.fed.gateway(r).court_addr),
                "ca": pki.file(&region, "court-ca.crt"),
                "rootKey": pki.file(&region, "root-key.pem"),
                "rootPublic": pki.root_key(&region).unwrap().public().to_string(),
            }),
        );
    }
    for c in ["SC0104", "CQ0103"] {
        let (cert, key) = pki.court(&CourtId::parse(c).unwrap());
        courts.insert(c.to_owned(), json!({"cert": cert, "key": key}));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.json");
    let fixture =
        repo().join("schemas/service-request/v3/valid/01-basic-court-person-sms-then-post.json");
    std::fs::write(
        &config,
        json!({"regions": regions, "courts": courts, "requesting": "SC0104",
               "executing": "CQ0103", "fixture": fixture})
        .to_string(),
    )
    .unwrap();

    // Python signs an amendment written with +08:00 times, over its terms as written.
    let amended = dir.path().join("amended.json");
    let out = python(
        &["sign-agreement", "--out", amended.to_str().unwrap()],
        &config,
    )
    .await;
    assert!(out.contains("+08:00"), "{out}");
    let text = std::fs::read_to_string(&amended).unwrap();
    assert!(
        text.contains("\"validFrom\": \"2026-01-01T00:00:00+08:00\""),
        "{text}"
    );
    let document = Agreement::from_json(&text).unwrap();
    // Both gateways' operators load it; it takes effect at once.
    for region in ["SC", "CQ"] {
        let summary = t
            .fed
            .admin(region, "alice")
            .unwrap()
            .load(&document)
            .await
            .unwrap();
        assert_eq!(summary.status, "active", "{region}: {summary:?}");
        assert_eq!(summary.sha256, document.terms.digest().unwrap());
    }

    // And walks a request through both gateways, checking everything.
    let out = python(
        &["journey", "--expect-agreement", amended.to_str().unwrap()],
        &config,
    )
    .await;
    assert!(out.contains("all verify"), "{out}");
    println!("{out}");
    t.shutdown().await;
}
