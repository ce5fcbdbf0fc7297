//! `kuayu demo` and the example, run as a user runs them.

use std::process::Command;

#[test]
fn the_demo_completes_every_journey_and_verifies_every_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_kuayu"))
        .args(["demo", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("7 of 7 journeys completed with every receipt verified"),
        "{text}"
    );
    // The story: service fails electronically and completes by post; the freeze is lifted;
    // every journey's deadlines are shown, and met.
    assert!(
        text.contains("sms no consent → printed → posted KY")
            && text.contains("certificate: served (postal)"),
        "{text}"
    );
    assert!(
        text.contains("frozen until") && text.contains("lift request → accepted → lifted"),
        "{text}"
    );
    let deadline_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("deadlines:"))
        .collect();
    // A party files in Chongqing a case for a court in Chengdu, with the scans of its nine
    // materials, and the court dockets it under its own case number within the seven days.
    assert!(
        text.contains("filing  ")
            && text.contains("request [+9 files] → received → docketed （")
            && text.contains("）川0104民初8421号"),
        "{text}"
    );
    assert!(text.contains("filing.docket_or_rule met"), "{text}");
    assert_eq!(deadline_lines.len(), 7, "{text}");
    assert!(
        deadline_lines
            .iter()
            .all(|l| l.contains("acknowledge met") && !l.contains("overdue")),
        "{text}"
    );
    for kind in ["service", "printing", "evidence", "preservation", "filing"] {
        assert!(
            text.lines().any(|l| l.contains(kind) && l.ends_with(" ok")),
            "a row for {kind}: {text}"
        );
    }
    // A scrape of each gateway's /metrics counts the messages the journeys sent and received.
    assert!(
        text.contains("metrics agree with the") && !text.contains("MISMATCH"),
        "{text}"
    );
    assert!(state.join("SC/gateway.toml").is_file() && state.join("agreement.json").is_file());
}

#[test]
fn the_two_regions_example_walks_one_request_to_completion() {
    // `cargo test` builds the examples next to the test binaries: target/<profile>/examples/.
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples")
        .join("two_regions");
    assert!(
        example.is_file(),
        "{} is missing: run the tests with `cargo test`, which builds the examples",
        example.display()
    );
    let out = Command::new(&example).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        // The relay's own entry may already show a later state: the executing court can
        // answer before the sending gateway has filed the relay receipt.
        text.contains("4. SC0104 sees: submitted → ") && text.contains("→ completed"),
        "{text}"
    );
}
