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

/// Chongqing's configuration written again to `name` with `change` applied to its text.
fn variant(t: &TestFed, name: &str, change: impl FnOnce(String) -> String) -> PathBuf {
    let cq = &t.fed.configs[&RegionId::parse("CQ").unwrap()];
    let text = std::fs::read_to_string(cq).unwrap();
    let path = t.fed.dir.join(name);
    std::fs::write(&path, change(text)).unwrap();
    path
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
