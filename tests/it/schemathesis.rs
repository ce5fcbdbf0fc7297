//! schemathesis (a property-based API tester, from PyPI) against two real gateways: it
//! reads each API's OpenAPI document from the gateway that serves it, generates requests
//! from it (valid and invalid, examples first), sends them with a real client
//! certificate, and runs every check it has against each answer: no server error, every
//! status, header, media type and body as the document says, invalid input refused.
//! The test fails on any finding.
//!
//! It needs `python3` with schemathesis (`.ci/run` installs the pinned version from
//! tests/requirements.txt; run as `python3 -m schemathesis.cli`, which needs no script on
//! the PATH). Under CI (`CI` set) a missing one fails the test; elsewhere
//! the test says so and passes without running. `KUAYU_SCHEMATHESIS_EXAMPLES` sets the
//! examples per operation (default 100), `KUAYU_SCHEMATHESIS_SEED` another seed than the
//! configuration's.

use std::path::{Path, PathBuf};
use std::process::Command;

use kuayu::ids::{CourtId, PrintCentreId, RegionId, Sha256};
use serde_json::json;

use crate::support::*;

/// Whether `schemathesis` is here; under CI it must be.
fn schemathesis_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-m", "schemathesis.cli", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have schemathesis: .ci/run installs tests/requirements.txt"
        );
        eprintln!("SKIPPED: schemathesis is not installed (pip install -r tests/requirements.txt)");
    }
    ok
}

/// Runs schemathesis against the document at `url`, off the runtime's thread so the
/// gateways keep serving; fails the test with its report on any finding.
async fn schemathesis(url: String, tls: [PathBuf; 3], ids: &[(&str, String)], extra: &[&str]) {
    let examples =
        std::env::var("KUAYU_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "100".to_owned());
    let [ca, cert, key] = tls;
    let report = tempfile::tempdir().unwrap();
    let mut command = Command::new("python3");
    command
        .args(["-m", "schemathesis.cli", "--config-file"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml"))
        .arg("run")
        .arg(&url)
        .args(["--checks", "all", "--max-examples", &examples, "--no-color"])
        .arg("--tls-verify")
        .arg(&ca)
        .arg("--request-cert")
        .arg(&cert)
        .arg("--request-cert-key")
        .arg(&key)
        .arg("--report-dir")
        .arg(report.path())
        // It keeps a cache (.schemathesis/) where it runs: not in the repository.
        .current_dir(report.path())
        .args(extra)
        .args(
            std::env::var("KUAYU_SCHEMATHESIS_SEED")
                .map(|seed| vec!["--seed".to_owned(), seed])
                .unwrap_or_default(),
        )
        .envs(ids.iter().map(|(k, v)| (*k, v.as_str())))
        .env("NO_COLOR", "1");
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("schemathesis runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    println!("{stdout}");
    assert!(
        out.status.success(),
        "schemathesis found problems with {url} ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains(" passed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_that_contradicts_the_documents() {
    if !schemathesis_ready() {
        return;
    }
    // A court listener deadline of 12 s keeps long polls (`wait`) to 7 s: within the tool's
    // request timeout (tests/schemathesis.toml).
    let t = TestFed::start_with(time::macros::datetime!(2026-11-25 08:00 UTC), |o| {
        o.connections.request_timeout_ms = 12_000;
    })
    .await;
    // Something to read: a service request SC0104 sent to CQ0103, served by post after a
    // failed SMS (a print job at CQ01-PC1, a certificate of service), and a file CQ0103
    // uploaded.
    let sms = json!({"addresseeName": "王建国", "channel": "sms", "address": "13908312456",
        "outcome": "no_consent", "at": "2026-11-25T16:05:00+08:00",
        "reason": {"code": "no_consent", "text": "受送达人未同意电子送达"}});
    let (_, cq, centre, id) = failed_once(&t, sms).await;
    let job = job_of(&centre).await;
    let delivered = [
        ("printed", json!({"pages": 11})),
        ("posted", json!({"trackingNumber": "1158472036518"})),
        (
            "delivered",
            json!({"signedBy": "王建国", "relation": "self"}),
        ),
    ];
    report_all(&centre, &job, &delivered).await;
    reaches(&cq, id, "completed").await;
    let bytes = b"an interview record".to_vec();
    let sha256 = Sha256::digest(&bytes);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    cq.upload_file(&sha256, file.path()).await.unwrap();
    let ids = [
        ("KUAYU_REQUEST_ID", id.to_string()),
        ("KUAYU_PRINT_JOB_ID", job),
        ("KUAYU_ATTACHMENT_SHA256", sha256.to_string()),
    ];

    let pki = &t.fed.pki;
    let (sc_region, cq_region) = (
        RegionId::parse("SC").unwrap(),
        RegionId::parse("CQ").unwrap(),
    );
    let court_ca = pki.file(&cq_region, "court-ca.crt");
    let court_api = format!("https://{}/openapi.json", t.fed.gateway("CQ").court_addr);
    // The court API, as the executing court CQ0103.
    let (cert, key) = pki.court(&CourtId::parse("CQ0103").unwrap());
    schemathesis(court_api.clone(), [court_ca.clone(), cert, key], &ids, &[]).await;
    // Its print centre's routes, as the print centre CQ01-PC1.
    let (cert, key) = pki.print_centre(&PrintCentreId::parse("CQ01-PC1").unwrap());
    let centre_routes = ["--include-path-regex", "^/v1/(print-jobs|inbox)"];
    schemathesis(court_api, [court_ca, cert, key], &ids, &centre_routes).await;
    // The federation API at CQ, as the SC gateway.
    let federation_api = format!(
        "https://{}/federation/openapi.json",
        t.fed.gateway("CQ").federation_addr
    );
    let tls = [
        pki.file(&cq_region, "federation-ca.crt"),
        pki.file(&sc_region, "gateway.crt"),
        pki.file(&sc_region, "gateway.key"),
    ];
    schemathesis(federation_api, tls, &ids, &[]).await;
    t.shutdown().await;
}
