//! Backups and offline verification: a backup taken with the real binary while requests
//! flow restores to a gateway that starts, verifies, and serves every request committed
//! before the backup began; `kuayu audit verify` finds a rewritten audit entry.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kuayu::ids::RegionId;

use crate::attachments::{serving, upload};
use crate::support::*;

pub(crate) fn kuayu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kuayu"))
        .args(args)
        .output()
        .expect("kuayu runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_requests_flow_restores_verifies_and_serves() {
    let mut t = TestFed::start().await;
    let sc = t.court("SC0104");
    // Before the backup: requests, one with an attachment.
    let a = upload(&sc, 7, 300_000).await;
    let mut before = vec![submit(&sc, &serving(&a)).await.request_id];
    for _ in 0..5 {
        before.push(
            submit(&sc, &submission("service.request", "CQ0103"))
                .await
                .request_id,
        );
    }
    // Requests keep flowing while the backup is taken.
    let flowing = Arc::new(AtomicBool::new(true));
    let flow = {
        let (sc, flowing) = (t.court("SC0104"), Arc::clone(&flowing));
        tokio::spawn(async move {
            let mut n = 0;
            while flowing.load(Ordering::Relaxed) {
                submit(&sc, &submission("service.request", "CQ0103")).await;
                n += 1;
            }
            n
        })
    };
    let sc_config = t.fed.configs[&RegionId::parse("SC").unwrap()].clone();
    let file = t.fed.dir.join("sc-backup.tar");
    let out = tokio::task::spawn_blocking({
        let (config, file) = (sc_config.clone(), file.clone());
        move || {
            kuayu(&[
                "backup",
                "--config",
                config.to_str().unwrap(),
                "--to",
                file.to_str().unwrap(),
            ])
        }
    })
    .await
    .unwrap();
    flowing.store(false, Ordering::Relaxed);
    let during = flow.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("1 attachment(s)"), "{said}");
    assert!(during > 0, "requests flowed during the backup");

    // Restore into an empty folder and verify it offline.
    let restored = t.fed.dir.join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    tar::Archive::new(std::fs::File::open(&file).unwrap())
        .unpack(&restored)
        .unwrap();
    let db = restored.join("kuayu.db");
    let out = kuayu(&["audit", "verify", "--database", db.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("unbroken") && report.ends_with("ok\n"),
        "{report}"
    );

    // Sichuan starts again on the restored store and serves what was committed before.
    t.fed.stop("SC").await;
    let text = std::fs::read_to_string(&sc_config).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("database"))
        .unwrap()
        .to_owned();
    let moved = text.replace(&line, &format!("database = {:?}", db.to_str().unwrap()));
    std::fs::write(&sc_config, moved).unwrap();
    t.fed
        .restart("SC")
        .await
        .expect("the restored gateway starts");
    let sc = t.court("SC0104");
    for id in &before {
        let view = sc.request(*id).await.unwrap();
        assert_eq!(view["id"], serde_json::json!(id), "{view}");
    }
    let mut bytes = Vec::new();
    sc.download(&a.sha256, &mut bytes).await.unwrap();
    assert_eq!(
        bytes.len() as u64,
        a.bytes,
        "the attachment came back with the store"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn audit_verify_names_a_rewritten_audit_entry() {
    let t = TestFed::start().await;
    let sc = t.court("SC0104");
    let id = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, id, "relayed").await;
    let config = t.fed.configs[&RegionId::parse("SC").unwrap()].clone();
    let file = t.fed.dir.join("b.tar");
    let out = kuayu(&[
        "backup",
        "--config",
        config.to_str().unwrap(),
        "--to",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = t.fed.dir.join("copy");
    tar::Archive::new(std::fs::File::open(&file).unwrap())
        .unpack(&copy)
        .unwrap();
    let db = copy.join("kuayu.db");
    // Someone with the file rewrites history: the triggers are no obstacle to them.
    {
        use sqlx::Connection as _;
        let url = format!("sqlite://{}", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        for sql in [
            "DROP TRIGGER audit_no_update",
            "UPDATE audit SET actor = 'court:SC0199' WHERE seq = 2",
        ] {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
    }
    let out = kuayu(&["audit", "verify", "--database", db.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "{report}");
    assert!(report.contains("FAIL audit entry #2"), "{report}");
    t.shutdown().await;
}
