//! Proof bundles: after a service request (with an attachment) completes, the requesting
//! court downloads its bundle, the CLI exports one from the gateway's database, and
//! `kuayu bundle verify` (the real binary) checks both offline with the party root keys;
//! a flipped byte in an envelope, a receipt, the agreement or an audit entry is named.

use std::path::Path;
use std::process::{Command, Output};

use kuayu::ids::{MessageId, RegionId};
use kuayu::receipt::Hop;
use serde_json::{Value, json};

use crate::attachments::{serving, upload};
use crate::support::*;

fn kuayu(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kuayu"))
        .args(args)
        .output()
        .expect("kuayu runs")
}

/// Runs `kuayu bundle verify FILE --roots PKI` off the runtime's thread.
async fn verify_cli(file: &Path, pki: &Path) -> (bool, String) {
    let (file, pki) = (file.to_owned(), pki.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        kuayu(&[
            "bundle".as_ref(),
            "verify".as_ref(),
            file.as_os_str(),
            "--roots".as_ref(),
            pki.as_os_str(),
        ])
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

/// The text with the first ASCII letter or digit after the anchors (found one after the
/// other) changed in its lowest bit: one flipped byte, the JSON still well formed.
fn flip_after(text: &str, anchors: &[&str]) -> String {
    let mut at = 0;
    for a in anchors {
        at += text[at..]
            .find(a)
            .unwrap_or_else(|| panic!("{a} in the bundle"))
            + a.len();
    }
    let mut bytes = text.as_bytes().to_vec();
    let i = at
        + bytes[at..]
            .iter()
            .position(u8::is_ascii_alphanumeric)
            .unwrap();
    bytes[i] ^= 1;
    String::from_utf8(bytes).unwrap()
}

/// A service request SC0104 → CQ0103 with one attachment, retrieved, accepted and served.
pub(crate) async fn completed_service(t: &TestFed) -> MessageId {
    let (requester, executor) = (t.court("SC0104"), t.court("CQ0103"));
    let document = upload(&requester, 7, 50_000).await;
    let id = submit(&requester, &serving(&document)).await.request_id;
    reaches(&requester, id, "relayed").await;
    executor.inbox(0, 50).await.unwrap();
    accept(&executor, id, "service").await;
    executor
        .update(id, &update("service.result", valid("service-result")))
        .await
        .expect("result accepted");
    reaches(&requester, id, "completed").await;
    id
}

#[tokio::test]
async fn a_completed_requests_bundle_verifies_offline_and_a_flipped_byte_in_any_part_is_named() {
    let t = TestFed::start().await;
    let id = completed_service(&t).await;
    let dir = tempfile::tempdir().unwrap();
    let pki = t.fed.pki.dir.clone();

    // The requesting court downloads the bundle; no other court may.
    let (status, bundle) = t
        .raw("SC0104")
        .get(&format!("/v1/requests/{id}/bundle"))
        .await;
    assert_eq!(status, 200, "{bundle}");
    let (status, refusal) = t
        .raw("SC01")
        .get(&format!("/v1/requests/{id}/bundle"))
        .await;
    assert_eq!((status, refusal["code"].as_str()), (404, Some("not_found")));
    assert_eq!(bundle["format"], "kuayu-bundle/1");
    assert_eq!(bundle["requestId"], json!(id));
    let envelopes = bundle["envelopes"].as_array().unwrap();
    assert_eq!(envelopes.len(), 3, "the request, the status, the result");
    assert_eq!(envelopes[0]["id"], json!(id));
    assert_eq!(bundle["attachments"].as_array().unwrap().len(), 1);
    assert!(
        !bundle["audit"]["entries"].as_array().unwrap().is_empty(),
        "SC's audit entries about the request"
    );
    let receipts = bundle["receipts"].as_array().unwrap();
    assert!(
        receipts
            .iter()
            .any(|r| r["hop"] == "relay" && r["issuer"] == "CQ"),
        "the relay receipt CQ signed"
    );
    let from_api = dir.path().join("from-api.json");
    std::fs::write(&from_api, serde_json::to_string_pretty(&bundle).unwrap()).unwrap();
    let (ok, out) = verify_cli(&from_api, &pki).await;
    assert!(ok, "the downloaded bundle verifies:\n{out}");

    // The CLI exports the same request from SC's database, the gateway still running.
    let exported = dir.path().join("exported.json");
    let config = t.fed.configs[&RegionId::parse("SC").unwrap()].clone();
    let (cfg, out_file, request) = (config.clone(), exported.clone(), id.to_string());
    let out = tokio::task::spawn_blocking(move || {
        kuayu(&[
            "bundle".as_ref(),
            "export".as_ref(),
            request.as_ref(),
            "--config".as_ref(),
            cfg.as_os_str(),
            "--out".as_ref(),
            out_file.as_os_str(),
        ])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, report) = verify_cli(&exported, &pki).await;
    assert!(ok, "the exported bundle verifies:\n{report}");
    assert!(report.contains("the bundle verifies"), "{report}");
    let text = std::fs::read_to_string(&exported).unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        parsed["envelopes"], bundle["envelopes"],
        "the same envelopes, as sealed"
    );

    // A flipped byte in each part is found and named.
    let cases: [(&str, &[&str], String); 4] = [
        (
            "envelope",
            &["\"envelopes\"", "\"payload\"", ": \""],
            format!("MISMATCH  envelope {id}"),
        ),
        (
            "receipt",
            &["\"receipts\"", "\"at\": \""],
            "MISMATCH  receipt #0".into(),
        ),
        (
            "agreement",
            &["\"agreements\"", "\"validFrom\": \""],
            "MISMATCH  agreement".into(),
        ),
        (
            "audit",
            &["\"audit\"", "\"entries\"", "\"actor\": \""],
            "MISMATCH  audit".into(),
        ),
    ];
    for (part, anchors, named) in cases {
        let file = dir.path().join(format!("flipped-{part}.json"));
        std::fs::write(&file, flip_after(&text, anchors)).unwrap();
        let (ok, report) = verify_cli(&file, &pki).await;
        assert!(
            !ok,
            "a flipped byte in the {part} must fail verification:\n{report}"
        );
        assert!(
            report.contains(&named),
            "the {part} is named ({named}):\n{report}"
        );
    }
    // Root keys that are not the parties' fail the agreement.
    let other = kuayu::crypto::SigningKey::generate().public().to_string();
    let (ok, report) = verify_cli(&exported, Path::new(&format!("SC={other},CQ={other}"))).await;
    assert!(!ok && report.contains("MISMATCH  agreement"), "{report}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_receipt_from_another_request_or_a_reordered_bundle_is_refused() {
    let t = TestFed::start().await;
    let id = completed_service(&t).await;
    let (_, bundle) = t
        .raw("SC0104")
        .get(&format!("/v1/requests/{id}/bundle"))
        .await;
    let mut roots = kuayu::agreement::PartyRoots::new();
    for r in ["SC", "CQ"].map(|r| RegionId::parse(r).unwrap()) {
        roots.insert(r.clone(), t.fed.pki.root_key(&r).unwrap().public());
    }
    let check = |b: &Value| kuayu::bundle::verify::verify(b.to_string().as_bytes(), &roots);
    assert!(check(&bundle).ok(), "{}", check(&bundle));

    // Swapping two envelopes is an order mismatch (and breaks the exporter's signature).
    let mut swapped = bundle.clone();
    swapped["envelopes"].as_array_mut().unwrap().swap(0, 1);
    let report = check(&swapped);
    assert!(
        report.mismatches.iter().any(|m| m.part == "order"),
        "{report}"
    );
    assert!(
        report.mismatches.iter().any(|m| m.part == "bundle"),
        "{report}"
    );

    // A genuine receipt of another request names no envelope of this bundle.
    let other = completed_service(&t).await;
    let (_, second) = t
        .raw("SC0104")
        .get(&format!("/v1/requests/{other}/bundle"))
        .await;
    let foreign = second["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["hop"] == Hop::Relay.as_str())
        .unwrap()
        .clone();
    let mut mixed = bundle.clone();
    mixed["receipts"].as_array_mut().unwrap().push(foreign);
    let report = check(&mixed);
    assert!(
        report
            .mismatches
            .iter()
            .any(|m| m.part == "receipt" && m.what.contains("not among the bundle's")),
        "{report}"
    );
    t.shutdown().await;
}

/// The Python script (examples/python/kuayu_bundle.py, from docs/BUNDLE.md alone) verifies
/// the bundle a court downloaded, and names a changed receipt.
#[tokio::test]
async fn the_python_script_verifies_a_bundle_and_names_a_flipped_byte() {
    if !crate::python_client::python_ready() {
        return;
    }
    let t = TestFed::start().await;
    let id = completed_service(&t).await;
    let (_, bundle) = t
        .raw("SC0104")
        .get(&format!("/v1/requests/{id}/bundle"))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("bundle.json");
    let text = serde_json::to_string_pretty(&bundle).unwrap();
    std::fs::write(&good, &text).unwrap();
    let bad = dir.path().join("flipped.json");
    std::fs::write(&bad, flip_after(&text, &["\"receipts\"", "\"at\": \""])).unwrap();
    let pki = t.fed.pki.dir.clone();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python");
    let run = |file: std::path::PathBuf| {
        let (pki, script) = (pki.clone(), script.clone());
        tokio::task::spawn_blocking(move || {
            Command::new("python3")
                .current_dir(&script)
                .arg("kuayu_bundle.py")
                .arg(file)
                .arg("--roots")
                .arg(pki)
                .output()
                .expect("python3 runs")
        })
    };
    let out = run(good).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("the bundle verifies"), "{stdout}");
    let out = run(bad).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("MISMATCH  receipt #0"), "{stdout}");
    assert!(stdout.contains("MISMATCH  bundle SC"), "{stdout}");
    t.shutdown().await;
}
