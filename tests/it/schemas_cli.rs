//! `kuayu schemas check` and `kuayu validate`, run as a developer runs them.

use std::path::Path;
use std::process::Command;

fn kuayu() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kuayu"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn schemas() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

#[test]
fn schemas_check_passes_on_the_committed_fixtures() {
    let out = kuayu()
        .args(["schemas", "check", "--dir"])
        .arg(schemas())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" 0 surprises"), "{text}");
}

#[test]
fn schemas_check_fails_when_a_fixture_is_altered_to_break_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&schemas(), dir.path());
    let fixture = std::fs::read_dir(dir.path().join("service-request/v1/valid"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .min()
        .unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    doc.as_object_mut().unwrap().remove("case");
    std::fs::write(&fixture, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let out = kuayu()
        .args(["schemas", "check", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let name = fixture.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        text.contains(&name) && text.contains("must pass but fails: required"),
        "{text}"
    );
}

#[test]
fn schemas_check_fails_when_a_must_fail_fixture_starts_passing() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&schemas(), dir.path());
    let valid = std::fs::read_dir(dir.path().join("evidence-request/v1/valid"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .min()
        .unwrap();
    let invalid = std::fs::read_dir(dir.path().join("evidence-request/v1/invalid"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .min()
        .unwrap();
    let mut wrapper: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&invalid).unwrap()).unwrap();
    wrapper["document"] = serde_json::from_str(&std::fs::read_to_string(&valid).unwrap()).unwrap();
    std::fs::write(&invalid, serde_json::to_string_pretty(&wrapper).unwrap()).unwrap();
    let out = kuayu()
        .args(["schemas", "check", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("but passes"),
        "{text}"
    );
}

#[test]
fn validate_reports_each_failing_field_of_a_document() {
    let dir = tempfile::tempdir().unwrap();
    // --kind checks against the newest version the sample agreement accepts today.
    let good = std::fs::read_dir(schemas().join("preservation-request/v2/valid"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .min()
        .unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&good).unwrap()).unwrap();
    doc["urgency"] = serde_json::json!("SOMEDAY");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, doc.to_string()).unwrap();
    let out = kuayu()
        .args(["validate", "--kind", "preservation.request"])
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("ok ")
            && text.contains("FAIL")
            && text.contains("enum at \"/urgency\"")
            && text.contains("preservation-request@2"),
        "{text}"
    );
}
