//! Before changing a live agreement: the dry run over stored traffic, and the
//! conformance kit against a partner gateway.

use std::process::Command;

use kuayu::agreement::PolicyDoc;
use kuayu::conformance::{self, Kit};
use kuayu::ids::RegionId;
use kuayu::tls::Identity;

use crate::support::*;

/// Mixed traffic at Sichuan: three service requests, two evidence requests, one print job.
async fn traffic(t: &TestFed) {
    let mut ids = Vec::new();
    for (court, kind, to, n) in [
        ("SC0104", "service.request", "CQ0103", 3),
        ("SC01", "evidence.request", "CQ01", 2),
        ("SC0104", "printing.request", "CQ0103", 1),
    ] {
        for _ in 0..n {
            ids.push((
                court,
                submit(&t.court(court), &submission(kind, to))
                    .await
                    .request_id,
            ));
        }
    }
    for (court, id) in ids {
        reaches(&t.court(court), id, "relayed").await;
    }
}

/// A candidate that stops evidence requests from Sichuan and caps print jobs at 5 pages.
fn candidate(t: &TestFed) -> kuayu::agreement::Agreement {
    let mut c = t.fed.agreement.clone();
    c.terms.version = 2;
    for d in &mut c.terms.directions {
        if d.from.as_str() == "SC" {
            d.kinds.retain(|k| k.as_str() != "evidence.request");
        }
    }
    c.terms.policies.push(PolicyDoc {
        id: "print-jobs-of-five-pages".into(),
        description: "a tighter page limit under discussion".into(),
        cedar: "forbid(principal, action == Action::\"printing.request\", resource) when { context.pageCount > 5 };".into(),
    });
    c.signatures.clear();
    c
}

#[tokio::test]
async fn simulate_reports_what_a_new_agreement_would_refuse_by_reason() {
    let t = TestFed::start().await;
    traffic(&t).await;
    let file = t.fed.dir.join("candidate.json");
    std::fs::write(&file, serde_json::to_string_pretty(&candidate(&t)).unwrap()).unwrap();
    let db = kuayu::config::GatewayConfig::load(&t.fed.configs[&RegionId::parse("SC").unwrap()])
        .unwrap()
        .database
        .sqlite_path()
        .unwrap()
        .to_path_buf();

    // Offline, against the live gateway's database file.
    let out = Command::new(env!("CARGO_BIN_EXE_kuayu"))
        .args(["agreement", "simulate"])
        .arg(&file)
        .arg("--against")
        .arg(&db)
        .args(["--days", "3650"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("6 messages"), "{text}");
    assert!(text.contains("would accept      3"), "{text}");
    assert!(text.contains("would refuse      3"), "{text}");
    let line = |code: &str| {
        text.lines()
            .find(|l| l.contains(code))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("kind_not_permitted").trim_start().starts_with("2 ")
            && line("kind_not_permitted").contains("evidence.request from SC to CQ"),
        "{text}"
    );
    assert!(
        line("policy_denied").trim_start().starts_with("1 ")
            && line("policy_denied").contains("print-jobs-of-five-pages"),
        "{text}"
    );

    // The same through the gateway's admin API.
    let report = t
        .fed
        .admin("SC", "alice")
        .unwrap()
        .simulate(&candidate(&t), 30)
        .await
        .unwrap();
    assert_eq!((report.messages, report.accepted), (6, 3));
    let counts: Vec<(String, usize)> = report
        .refused
        .iter()
        .map(|r| (r.code.clone(), r.count))
        .collect();
    assert_eq!(
        counts,
        [
            ("kind_not_permitted".to_owned(), 2),
            ("policy_denied".to_owned(), 1)
        ]
    );
    t.shutdown().await;
}

fn kit(t: &TestFed) -> Kit {
    let sc = RegionId::parse("SC").unwrap();
    Kit {
        agreement: t.fed.agreement.clone(),
        region: sc.clone(),
        identity: Identity::load(
            &t.fed.pki.file(&sc, "gateway.crt"),
            &t.fed.pki.file(&sc, "gateway.key"),
        )
        .unwrap(),
        key: t.fed.pki.message_key(&sc).unwrap(),
        peer_url: format!("https://{}", t.fed.gateway("CQ").federation_addr),
        from: None,
        to: None,
    }
}

#[tokio::test]
async fn conformance_passes_against_kuayu_and_names_the_exact_failures_of_a_misconfigured_peer() {
    // The command runs on the wall clock, and the receiver refuses a createdAt ahead of its
    // own clock: start the federation's clock at the wall clock's time.
    let mut t = TestFed::start_at(time::OffsetDateTime::now_utc()).await;
    let now = kuayu::clock::Clock::now(&*t.clock);
    // As a partner runs it: the command, with Sichuan's test credentials.
    let sc = RegionId::parse("SC").unwrap();
    let agreement = t.fed.dir.join("agreement.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_kuayu"));
    command
        .args([
            "conformance",
            "--peer",
            &format!("https://{}", t.fed.gateway("CQ").federation_addr),
            "--region",
            "SC",
        ])
        .arg("--agreement")
        .arg(&agreement)
        .arg("--cert")
        .arg(t.fed.pki.file(&sc, "gateway.crt"))
        .arg("--key")
        .arg(t.fed.pki.file(&sc, "gateway.key"))
        .arg("--signing-key")
        .arg(t.fed.pki.file(&sc, "message-key.pem"));
    // The gateways run on this test's runtime: wait for the command off it.
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(" 0 do not"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = conformance::run(&kit(&t), now).await.unwrap();
    assert!(
        report.cases.len() > 100,
        "every fixture of every kind Sichuan may send: {}",
        report.cases.len()
    );
    let failures: Vec<_> = report.failures().collect();
    assert!(failures.is_empty(), "{report}");
    assert!(
        report
            .cases
            .iter()
            .any(|c| c.expected == "schema_violation")
            && report.cases.iter().any(|c| c.expected == "policy_denied")
    );
    // Nothing reached a court.
    assert!(t.court("CQ01").inbox(0, 50).await.unwrap().items.is_empty());

    // Chongqing, misconfigured: it skips the agreement's policies.
    t.fed.stop("CQ").await;
    t.fed
        .restart_with_danger("CQ", kuayu::config::Danger { skip_policy: true })
        .await
        .unwrap();
    let report = conformance::run(&kit(&t), now).await.unwrap();
    let mut failed: Vec<String> = report
        .failures()
        .map(|c| format!("{} expected {} got {}", c.fixture, c.expected, c.actual))
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [
            "evidence.request evidence-request@1 valid/04-site-inspection-left-to-policy.json expected policy_denied got accepted",
            "evidence.request evidence-request@2 valid/06-site-inspection-ascii-brackets.json expected policy_denied got accepted",
            "printing.request printing-request@1 valid/03-ten-thousand-pages.json expected policy_denied got accepted",
            "printing.request printing-request@2 valid/07-ten-thousand-pages-left-to-policy.json expected policy_denied got accepted",
        ],
        "{report}"
    );
    t.shutdown().await;
}
