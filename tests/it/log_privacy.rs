//! Logs for operators carry no personal data: every journey of the demo, run as a user
//! runs it with every log line of every crate on (`RUST_LOG=trace`: kuayu, sqlx's
//! statements, hyper, h2, rustls, reqwest) as JSON, and not one name, identity number,
//! address, phone number or account number from the payloads actually sent appears in
//! what it logged. The strings are taken from the messages both gateways stored, by
//! walking each payload (and the attachment list) for the members that hold such data.

use std::collections::BTreeMap;
use std::process::Command;

use kuayu::store::Store as _;
use kuayu::store::sql::SqlStore;
use serde_json::Value;

/// The personal data a member holds, by its name; `None` for any other member.
fn category(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    if key.contains("account") {
        Some("account numbers and holders")
    } else if key.contains("idnumber") || key.contains("passport") {
        Some("identity numbers")
    } else if key.contains("phone") || key.contains("mobile") || key == "contact" {
        Some("phone numbers")
    } else if key.contains("address") || key == "street" || key == "email" {
        Some("addresses")
    } else if key.ends_with("name")
        || key == "signedby"
        || key == "legalrepresentative"
        || key == "lawfirm"
        || key == "title"
    {
        Some("names")
    } else {
        None
    }
}

/// Every string under a member `category` names, anywhere in `v`.
fn personal(v: &Value, key: &str, out: &mut BTreeMap<String, &'static str>) {
    match v {
        Value::Object(map) => map.iter().for_each(|(k, v)| personal(v, k, out)),
        Value::Array(items) => items.iter().for_each(|v| personal(v, key, out)),
        Value::String(s) if s.chars().count() >= 2 => {
            if let Some(c) = category(key) {
                out.insert(s.clone(), c);
            }
        }
        _ => {}
    }
}

/// `s` as a JSON string's inside would write it, and with every non-ASCII character as
/// `\uXXXX`: the forms a log line could hold it in.
fn forms(s: &str) -> Vec<String> {
    let json = serde_json::to_string(s).unwrap();
    let json = json[1..json.len() - 1].to_owned();
    let mut ascii = String::new();
    for c in s.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                ascii.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    vec![s.to_owned(), json, ascii]
}

#[tokio::test]
async fn no_personal_data_from_any_payload_reaches_the_logs_at_the_most_verbose_level() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("demo");
    let out = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_kuayu"))
                .args(["--log-format", "json", "demo", "--state"])
                .arg(&state)
                .env("RUST_LOG", "trace")
                .output()
        })
        .await
        .unwrap()
        .unwrap()
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let logs = String::from_utf8(out.stderr).expect("logs are UTF-8");

    // Everything was on: the gateway's own lines and every library's, each a JSON object.
    let mut targets = BTreeMap::new();
    for line in logs.lines() {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let target = entry["target"].as_str().unwrap_or_default();
        let root = target.split("::").next().unwrap_or_default().to_owned();
        *targets
            .entry((root, entry["level"].to_string()))
            .or_insert(0) += 1;
    }
    for (root, level) in [
        ("kuayu", "INFO"),
        ("kuayu", "DEBUG"),
        ("sqlx", "DEBUG"),
        ("h2", "TRACE"),
        ("hyper_util", "TRACE"),
        ("rustls", "TRACE"),
        ("reqwest", "TRACE"),
    ] {
        assert!(
            targets.contains_key(&(root.to_owned(), format!("\"{level}\""))),
            "no {level} line from {root}: {targets:?}"
        );
    }
    // The journeys' lines carry what operators need.
    assert!(
        logs.lines().any(|l| l.contains("\"message accepted\"")
            && l.contains("\"request_id\"")
            && l.contains("\"kind\":\"preservation.request\"")
            && l.contains("\"from_court\"")),
        "no structured outcome line"
    );

    // Every line of a message's way, of the relay's delivery of it and of its retrieval
    // receipt's arrival back names its W3C trace; a message arriving from the peer carries the trace the sending side logged.
    let (mut sent_under, mut received_under) = (BTreeMap::new(), Vec::new());
    for line in logs.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        let span = &entry["span"];
        if !matches!(
            span["name"].as_str(),
            Some("message" | "delivery" | "receipt")
        ) {
            continue;
        }
        let trace = span["trace_id"].as_str().unwrap_or_default().to_owned();
        assert!(kuayu::observe::trace::is_trace_id(&trace), "{line}");
        if entry["message"] == "message accepted" {
            match span["direction"].as_str() {
                Some("outbound") => {
                    sent_under.insert(trace, ());
                }
                _ => received_under.push(trace),
            }
        }
    }
    assert!(!received_under.is_empty(), "no inbound message accepted");
    for trace in &received_under {
        assert!(
            sent_under.contains_key(trace),
            "trace {trace} arrived but was never sent"
        );
    }

    // What the courts sent, as both gateways stored it.
    let mut sent = BTreeMap::new();
    let mut messages = 0;
    for region in ["SC", "CQ"] {
        let store = SqlStore::open_read_only(&state.join(region).join("kuayu.db"))
            .await
            .unwrap();
        for envelope in store.messages_since(0).await.unwrap() {
            messages += 1;
            personal(&envelope["payload"], "", &mut sent);
            personal(&envelope["attachments"], "", &mut sent);
        }
        store.close().await;
    }
    assert!(messages >= 20, "every journey's messages: {messages}");
    for c in [
        "names",
        "identity numbers",
        "addresses",
        "phone numbers",
        "account numbers and holders",
    ] {
        assert!(
            sent.values().any(|v| *v == c),
            "the demo sends {c}, or this test finds none"
        );
    }
    let leaked: Vec<(&String, &&str)> = sent
        .iter()
        .filter(|(s, _)| forms(s).iter().any(|f| logs.contains(f.as_str())))
        .collect();
    assert!(
        leaked.is_empty(),
        "personal data in the logs ({} strings checked): {leaked:?}",
        sent.len()
    );
}

/// `log_format = "json"` in the configuration makes `kuayu serve` log JSON lines.
#[tokio::test]
async fn serve_logs_json_lines_when_its_configuration_says_so() {
    use std::io::{BufRead as _, BufReader};
    let t = crate::support::TestFed::start().await;
    let cq = &t.fed.configs[&kuayu::ids::RegionId::parse("CQ").unwrap()];
    let mut config: toml::Table = toml::from_str(&std::fs::read_to_string(cq).unwrap()).unwrap();
    config.insert("log_format".into(), "json".into());
    config.insert(
        "database".into(),
        t.fed
            .dir
            .join("json-logs")
            .join("kuayu.db")
            .display()
            .to_string()
            .into(),
    );
    config.remove("admin");
    for listener in ["federation", "court_api"] {
        config[listener]["listen"] = "127.0.0.1:0".into();
    }
    let path = t.fed.dir.join("json-logs.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kuayu"))
        .args(["serve", "--config"])
        .arg(&path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let serving = tokio::task::spawn_blocking(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("gateway serving"))
    })
    .await
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let line = serving.expect("the gateway says it is serving");
    let entry: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["level"], "INFO", "{line}");
    assert_eq!(entry["region"], "CQ", "{line}");
    t.shutdown().await;
}
