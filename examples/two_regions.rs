//! One commissioned service, walked through step by step with the court API.
//!
//! Run: `cargo run --example two_regions`
//!
//! Starts Sichuan and Chongqing gateways in a temporary folder (fresh TEST-ONLY PKI, the
//! sample agreement signed by both, real TLS and SQLite on loopback). Jinjiang District
//! Court (SC0104) asks Yuzhong District Court (CQ0103) to serve documents; Yuzhong finds
//! the request in its inbox, accepts it and returns a certificate of service. Prints
//! each step, then the requesting court's view of the request: its states and receipts.

use std::sync::Arc;
use std::time::Duration;

use kuayu::api::{Submission, UpdateSubmission};
use kuayu::clock::SystemClock;
use kuayu::demo::court::fixture;
use kuayu::devnet::{DevFederation, DevOptions};
use kuayu::ids::{CourtId, MessageKind};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let fed = DevFederation::start(dir.path(), DevOptions::new(Arc::new(SystemClock))).await?;
    let (jinjiang, yuzhong) = (fed.court_client("SC0104")?, fed.court_client("CQ0103")?);

    // 1. Jinjiang submits: the Sichuan gateway validates, signs, commits, answers 202.
    let payload =
        fixture("service-request", |_| true).ok_or_else(|| anyhow::anyhow!("no fixture"))?;
    let submission = Submission {
        kind: MessageKind::parse("service.request")?,
        recipient_court: CourtId::parse("CQ0103")?,
        schema_version: None,
        payload,
        attachments: vec![],
    };
    let accepted = jinjiang.submit(&submission, Some("example-1")).await?;
    println!(
        "1. SC0104 submitted request {} ({}), receipt signed by {}",
        accepted.request_id, accepted.state, accepted.receipt.issuer
    );

    // 2. Yuzhong polls its inbox until the Chongqing gateway has committed the request.
    let item = loop {
        let page = yuzhong.inbox(0, 10).await?;
        if let Some(item) = page.items.into_iter().next() {
            break item;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "2. CQ0103 found {} in its inbox, case {}",
        item.kind,
        item.envelope_value()
            .map(|e| e["payload"]["case"]["number"].clone())
            .unwrap_or_default()
    );

    // 3. Yuzhong accepts and returns a certificate of service (served by SMS at once; the
    //    demo shows the postal fallback when SMS fails).
    let acceptance = serde_json::json!({"status": "accepted", "at": kuayu::clock::rfc3339(time::OffsetDateTime::now_utc())});
    let certificate = fixture("service-result", |d| d["status"] == "served")
        .ok_or_else(|| anyhow::anyhow!("no service-result fixture"))?;
    let answers = [
        (MessageKind::parse("service.status")?, acceptance),
        (MessageKind::parse("service.result")?, certificate),
    ];
    for (kind, payload) in answers {
        yuzhong
            .update(
                item.request_id,
                &UpdateSubmission {
                    kind: kind.clone(),
                    schema_version: None,
                    payload,
                    attachments: vec![],
                },
            )
            .await?;
        println!("3. CQ0103 sent {kind}");
    }

    // 4. Jinjiang sees the request completed, with every hop receipted.
    let view = loop {
        let view = jinjiang.request(accepted.request_id).await?;
        if view["state"] == "completed" {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let states: Vec<&str> = view["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["state"].as_str())
        .collect();
    println!("4. SC0104 sees: {}", states.join(" → "));
    for r in view["receipts"].as_array().into_iter().flatten() {
        println!(
            "   receipt: {} of {} by {}",
            r["hop"], r["messageId"], r["issuer"]
        );
    }
    fed.shutdown().await;
    Ok(())
}
