//! `kuayu serve` refuses, before binding anything, what would weaken a production gateway:
//! a private key others can read, and `[danger]` settings in a build without the
//! `danger` feature. Each refusal names the file and the fix.

use std::path::{Path, PathBuf};
use std::process::Command;

use kuayu::ids::RegionId;

use crate::support::*;

/// Runs `kuayu serve --config <config>` and returns its exit success and its stderr.
async fn serve(config: PathBuf) -> (bool, String) {
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kuayu"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn serve_refuses_a_private_key_others_can_read_naming_the_file_and_the_fix() {
    let t = TestFed::start().await;
    let cq = RegionId::parse("CQ").unwrap();
    let original = t.fed.pki.file(&cq, "message-key.pem");
    let exposed = t.fed.dir.join("exposed-message-key.pem");
    std::fs::copy(&original, &exposed).unwrap();
    chmod(&exposed, 0o644);
    let config = variant(&t, "exposed.toml", |text| {
        text.replace(
            &original.display().to_string(),
            &exposed.display().to_string(),
        )
    });
    let (ok, stderr) = serve(config).await;
    assert!(!ok, "serve must not start: {stderr}");
    assert!(
        stderr.contains(&exposed.display().to_string())
            && stderr.contains("0644")
            && stderr.contains("chmod 600"),
        "{stderr}"
    );
    // The keys the dev PKI writes are private: the same file made private is accepted
    // as far as the key check goes (it stops later, at the ports the running CQ holds).
    chmod(&exposed, 0o600);
    let config = variant(&t, "private.toml", |text| {
        text.replace(
            &original.display().to_string(),
            &exposed.display().to_string(),
        )
    });
    let (ok, stderr) = serve(config).await;
    assert!(!ok && !stderr.contains("chmod 600"), "{stderr}");
    t.shutdown().await;
}

#[cfg(not(feature = "danger"))]
#[tokio::test]
async fn serve_refuses_danger_settings_in_a_default_build() {
    let t = TestFed::start().await;
    let config = variant(&t, "danger.toml", |text| {
        format!("{text}\n[danger]\nskip_policy = true\n")
    });
    let (ok, stderr) = serve(config.clone()).await;
    assert!(!ok, "serve must not start: {stderr}");
    assert!(
        stderr.contains(&config.display().to_string())
            && stderr.contains("--features danger")
            && stderr.contains("remove the [danger] table"),
        "{stderr}"
    );
    t.shutdown().await;
}

/// A client of CQ0103 for Chongqing's court API as its configuration names it (the
/// gateway may run in another process).
fn cq0103(t: &TestFed) -> kuayu::client::CourtClient {
    let cq = RegionId::parse("CQ").unwrap();
    let config = kuayu::config::GatewayConfig::load(&t.fed.configs[&cq]).unwrap();
    let (cert, key) = t
        .fed
        .pki
        .court(&kuayu::ids::CourtId::parse("CQ0103").unwrap());
    kuayu::client::CourtClient::new(
        &format!("https://{}", config.court_api.listen),
        &t.fed.pki.pem(&cq, "court-ca.crt").unwrap(),
        &kuayu::tls::Identity::load(&cert, &key).unwrap(),
    )
    .unwrap()
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_makes_a_running_gateway_read_its_revocation_lists_again() {
    let mut t = TestFed::start().await;
    let cq = RegionId::parse("CQ").unwrap();
    // Chongqing runs as its own `kuayu serve` process, on the same ports and files.
    t.fed.stop("CQ").await;
    let mut process = Command::new(env!("CARGO_BIN_EXE_kuayu"))
        .arg("serve")
        .arg("--config")
        .arg(&t.fed.configs[&cq])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = cq0103(&t);
    eventually("the CQ process answers", || async {
        client.inbox(0, 1).await.ok().map(|_| ())
    })
    .await;
    let (cert, _) = t
        .fed
        .pki
        .court(&kuayu::ids::CourtId::parse("CQ0103").unwrap());
    t.fed
        .pki
        .revoke(&cq, kuayu::pki::DevCa::Court, &[&cert])
        .unwrap();
    let hup = Command::new("kill")
        .arg("-HUP")
        .arg(process.id().to_string())
        .status()
        .unwrap();
    assert!(hup.success());
    // A fresh client (a new handshake) is refused once the process has read the list.
    eventually("the revoked court is refused", || async {
        let err = cq0103(&t).inbox(0, 1).await.err()?;
        err.to_string().contains("Revoked").then_some(())
    })
    .await;
    // The process is still serving: SIGHUP did not stop it.
    assert!(process.try_wait().unwrap().is_none());
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(process.id().to_string())
        .status();
    let _ = tokio::task::spawn_blocking(move || process.wait()).await;
    t.shutdown().await;
}
