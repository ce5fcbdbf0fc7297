//! `kuayu check-config FILE`, run as an operator runs it: every check `serve` makes before
//! binding, without binding or changing anything, a line per problem naming the file and
//! the fix, and exit 0 only when `serve` would start.

use std::path::Path;
use std::process::Command;

use kuayu::ids::RegionId;

use crate::support::*;

/// Runs `kuayu check-config <config>`: whether it exited 0, and what it printed.
async fn check_config(config: &Path) -> (bool, String) {
    let config = config.to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kuayu"))
            .arg("check-config")
            .arg(&config)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A copy of the file at `path` named `name`, with `change` applied to its text; the
/// configuration text with the copy in the original's place.
fn swap_file(
    t: &TestFed,
    text: String,
    path: &Path,
    name: &str,
    change: impl FnOnce(String) -> String,
) -> String {
    let copy = t.fed.dir.join(name);
    std::fs::write(&copy, change(std::fs::read_to_string(path).unwrap())).unwrap();
    text.replace(&path.display().to_string(), &copy.display().to_string())
}

fn fails(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("FAIL")).collect()
}

#[tokio::test]
async fn a_good_configuration_passes_every_check_and_nothing_is_bound_or_changed() {
    let t = TestFed::start().await;
    let cq = &t.fed.configs[&RegionId::parse("CQ").unwrap()];
    let (ok, text) = check_config(cq).await;
    assert!(ok, "{text}");
    assert!(fails(&text).is_empty(), "{text}");
    for expected in [
        "reachable (opened read-only), 1 agreement version(s) stored",
        "SC-CQ-2026 v1, signed by every party",
        "federation TLS: 3 file(s) read, 1 revocation list(s)",
        "court API TLS: 4 file(s) read, 1 revocation list(s)",
        "admin API TLS:",
        "signing key",
        "every check passed",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    // The gateway it describes is running on those addresses: the check binds none of them.
    assert!(text.contains("(not bound by this check)"), "{text}");

    // A database that does not exist yet is reported, not created.
    let fresh = t.fed.dir.join("fresh");
    let config = variant(&t, "fresh.toml", |text| {
        let db = t.fed.dir.join("CQ").join("kuayu.db");
        text.replace(
            &db.display().to_string(),
            &fresh.join("kuayu.db").display().to_string(),
        )
    });
    let (ok, text) = check_config(&config).await;
    assert!(ok, "{text}");
    assert!(
        text.contains("does not exist yet: serve will create it and its folder"),
        "{text}"
    );
    assert!(!fresh.exists(), "check-config created {}", fresh.display());
    t.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn each_problem_is_reported_on_its_own_line_with_the_file_and_the_exit_status_fails() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = TestFed::start().await;
    let cq = RegionId::parse("CQ").unwrap();
    let pki = &t.fed.pki;

    // A private key others can read.
    let key = t.fed.dir.join("exposed-court-api.key");
    std::fs::copy(pki.file(&cq, "court-api.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exposed = variant(&t, "exposed.toml", |text| {
        text.replace(
            &pki.file(&cq, "court-api.key").display().to_string(),
            &key.display().to_string(),
        )
    });
    let (ok, text) = check_config(&exposed).await;
    assert!(!ok, "{text}");
    assert_eq!(fails(&text).len(), 1, "one problem, said once:\n{text}");
    assert!(
        fails(&text)[0].contains(&key.display().to_string()) && text.contains("chmod 600"),
        "{text}"
    );

    // A certificate file that is not there.
    let missing = t.fed.dir.join("no-such-gateway.crt");
    let config = variant(&t, "missing.toml", |text| {
        text.replace(
            &pki.file(&cq, "gateway.crt").display().to_string(),
            &missing.display().to_string(),
        )
    });
    let (ok, text) = check_config(&config).await;
    assert!(!ok, "{text}");
    assert!(
        fails(&text)
            .iter()
            .any(|l| l.contains("federation") && l.contains(&missing.display().to_string())),
        "{text}"
    );

    // A revocation list that is not one.
    let crl = pki.crl(&cq, kuayu::pki::DevCa::Court);
    let config = variant(&t, "bad-crl.toml", |text| {
        swap_file(&t, text, &crl, "garbage.crl", |_| {
            "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n".into()
        })
    });
    let (ok, text) = check_config(&config).await;
    assert!(!ok, "{text}");
    assert!(
        fails(&text)
            .iter()
            .any(|l| l.contains("garbage.crl") && l.contains("revocation list")),
        "{text}"
    );

    // An agreement changed after it was signed.
    let agreement = t.fed.dir.join("agreement.json");
    let config = variant(&t, "tampered.toml", |text| {
        swap_file(&t, text, &agreement, "tampered.json", |a| {
            a.replacen("\"messageTtlHours\": 168", "\"messageTtlHours\": 169", 1)
        })
    });
    let (ok, text) = check_config(&config).await;
    assert!(!ok, "{text}");
    assert!(
        fails(&text)
            .iter()
            .any(|l| l.contains("tampered.json") && l.contains("refused")),
        "{text}"
    );

    // A database file that is not a database.
    let db = t.fed.dir.join("not-a-db").join("kuayu.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    std::fs::write(&db, vec![b'x'; 8192]).unwrap();
    let config = variant(&t, "bad-db.toml", |text| {
        text.replace(
            &t.fed.dir.join("CQ").join("kuayu.db").display().to_string(),
            &db.display().to_string(),
        )
    });
    let (ok, text) = check_config(&config).await;
    assert!(!ok, "{text}");
    assert!(
        fails(&text)
            .iter()
            .any(|l| l.contains(&db.display().to_string())),
        "{text}"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        vec![b'x'; 8192],
        "left as it was"
    );

    // A relay that would stop ordinary work beside a preservation order.
    let config = variant(&t, "quiet.toml", |text| {
        assert!(text.contains("quiet_slots = 4"), "{text}");
        text.replace("quiet_slots = 4", "quiet_slots = 0")
    });
    let (ok, text) = check_config(&config).await;
    assert!(!ok, "{text}");
    assert!(
        fails(&text)
            .iter()
            .any(|l| l.contains("quiet_slots = 0") && l.contains("at least 1")),
        "{text}"
    );

    // Two listeners on one address.
    let court = t.fed.gateway("CQ").court_addr.to_string();
    let federation = t.fed.gateway("CQ").federation_addr.to_string();
    let config = variant(&t, "clash.toml", |text| {
        text.replacen(&court, &federation, 1)
    });
    let (ok, text) = check_config(&config).await;
    assert!(!ok, "{text}");
    assert!(text.contains("which another listener"), "{text}");

    // All of them at once: each on its line.
    let config = variant(&t, "everything.toml", |text| {
        let text = text.replace(
            &pki.file(&cq, "court-api.key").display().to_string(),
            &key.display().to_string(),
        );
        let text = text.replace(
            &pki.file(&cq, "gateway.crt").display().to_string(),
            &missing.display().to_string(),
        );
        swap_file(&t, text, &agreement, "tampered-too.json", |a| {
            a.replacen("\"messageTtlHours\": 168", "\"messageTtlHours\": 169", 1)
        })
    });
    let (ok, text) = check_config(&config).await;
    assert!(!ok, "{text}");
    assert_eq!(fails(&text).len(), 3, "{text}");
    assert!(text.contains("3 problem(s)"), "{text}");

    // A file that is no configuration at all.
    let (ok, text) = check_config(&t.fed.dir.join("agreement.json")).await;
    assert!(!ok && text.starts_with("FAIL"), "{text}");
    t.shutdown().await;
}
