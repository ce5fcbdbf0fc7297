//! `kuayu demo`: the main job in one command. Fresh PKI and keys, Sichuan and Chongqing
//! gateways on loopback with embedded SQLite, a simulated court system behind each court
//! and a simulated print centre in each region. Sichuan sends one request of each kind to
//! Chongqing and Chongqing sends a preservation order and a cross-region case filing to
//! Sichuan: the commissioned service fails electronically and completes by post through
//! Chongqing's print centre, once the freeze is in place Sichuan lifts it, and the filing
//! is docketed with its new case number. A table shows each journey with its legal
//! deadlines and whether they were met. Exits 0 only if every journey completed and every
//! receipt verified.

pub mod court;
pub mod metrics;
pub mod printcentre;
pub mod report;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use crate::api::Submission;
use crate::clock::SystemClock;
use crate::devnet::{DevFederation, DevOptions};
use crate::ids::{CourtId, Family, MessageKind};
use court::{CourtSystem, fixture};
use report::{Journey, assess, render};

/// How long the demo waits for every journey to complete.
const DEADLINE: Duration = Duration::from_secs(60);

/// The journeys: (family, from court, to court, which request fixture).
fn plan() -> Vec<(Family, &'static str, &'static str, Value)> {
    let first = |schema: &str| fixture(schema, |_| true);
    let freeze = |d: &Value| {
        d.get("mode")
            .and_then(Value::as_str)
            .is_some_and(|m| m != "lift")
    };
    let mut out = Vec::new();
    for (family, from, to, doc) in [
        (
            Family::Service,
            "SC0104",
            "CQ0103",
            first("service-request"),
        ),
        (
            Family::Printing,
            "SC0104",
            "CQ0103",
            first("printing-request"),
        ),
        (Family::Evidence, "SC01", "CQ01", first("evidence-request")),
        (
            Family::Preservation,
            "SC01",
            "CQ01",
            fixture("preservation-request", freeze),
        ),
        (
            Family::Preservation,
            "CQ01",
            "SC01",
            fixture("preservation-request", freeze),
        ),
        // A party files at the court in Yuzhong, Chongqing, a case that belongs to the
        // court in Jinjiang, Chengdu (跨域立案).
        (Family::Filing, "CQ0103", "SC0104", first("filing-request")),
    ] {
        match doc {
            Some(doc) => out.push((family, from, to, doc)),
            None => tracing::error!(%family, "no fixture to send"),
        }
    }
    out
}

/// The lift of the freeze Sichuan sends in the first phase.
fn lift() -> Option<(Family, &'static str, &'static str, Value)> {
    let lift = fixture("preservation-request", |d| {
        d.get("mode").and_then(Value::as_str) == Some("lift")
    })?;
    Some((Family::Preservation, "SC01", "CQ01", lift))
}

/// Submits `plan`; the request ids in the same order.
async fn submit_all(
    fed: &DevFederation,
    plan: &[(Family, &'static str, &'static str, Value)],
) -> anyhow::Result<Vec<(Family, CourtId, CourtId, crate::ids::MessageId)>> {
    let mut sent = Vec::new();
    for (family, from, to, payload) in plan {
        let client = fed.court_client(from)?;
        // A filing travels with the filer's materials, scanned at the assisting court.
        let mut payload = payload.clone();
        let attachments = court::scan_materials(&client, &mut payload).await?;
        let submission = Submission {
            kind: MessageKind::request_of(*family),
            recipient_court: CourtId::parse(to)?,
            schema_version: None,
            payload,
            attachments,
        };
        let mode = submission.payload["mode"].as_str().unwrap_or("request");
        let key = format!("demo-{family}-{from}-{to}-{mode}");
        let accepted = client.submit(&submission, Some(&key)).await?;
        sent.push((
            *family,
            CourtId::parse(from)?,
            CourtId::parse(to)?,
            accepted.request_id,
        ));
    }
    Ok(sent)
}

/// Waits until each request is completed and its results pulled (or the deadline passes),
/// and reads both sides' views.
async fn follow(
    fed: &DevFederation,
    sent: Vec<(Family, CourtId, CourtId, crate::ids::MessageId)>,
    deadline: Instant,
) -> anyhow::Result<Vec<Journey>> {
    let mut journeys = Vec::new();
    for (family, from, to, request_id) in sent {
        let requester_client = fed.court_client(from.as_str())?;
        // Wait until the result is back and the requesting court system has pulled it from
        // its inbox: the requesting side then holds 2 receipts per message (submission and
        // relay of the request; relay and retrieval of each update).
        let requester = loop {
            let view = requester_client.request(request_id).await?;
            let count = |field: &str| view[field].as_array().map(Vec::len).unwrap_or(0);
            let done = report::finished(&view) && count("receipts") >= 2 * count("messages");
            if done || Instant::now() > deadline {
                break view;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let executor = fed.court_client(to.as_str())?.request(request_id).await?;
        journeys.push(Journey {
            family,
            from,
            to,
            request_id,
            requester,
            executor,
        });
    }
    Ok(journeys)
}

/// Downloads, as the requesting court, every file the executing court's answers carried
/// (the client checks each against its SHA-256), and says so.
async fn fetch_files(fed: &DevFederation, j: &Journey) -> anyhow::Result<()> {
    let client = fed.court_client(j.from.as_str())?;
    let answers = j.requester["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["direction"] == "in");
    for m in answers {
        for a in m["envelope"]["attachments"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Ok(a) = serde_json::from_value::<crate::envelope::AttachmentRef>(a.clone()) else {
                continue;
            };
            let mut sink = tokio::io::sink();
            let got = client.download(&a.sha256, &mut sink).await?;
            println!(
                "  {} fetched {} \"{}\" ({}, {got} bytes) from its gateway: SHA-256 verified",
                j.from, a.doc_id, a.title, a.doc_type
            );
        }
    }
    Ok(())
}

/// Runs the demo in `state` (emptied first).
pub async fn run(state: &Path) -> anyhow::Result<ExitCode> {
    if state.exists() {
        std::fs::remove_dir_all(state)?;
    }
    let started = Instant::now();
    println!(
        "kuayu demo: fresh PKI, signed agreement and two gateways in {}",
        state.display()
    );
    let fed = DevFederation::start(state, DevOptions::new(Arc::new(SystemClock))).await?;
    for region in ["SC", "CQ"] {
        let g = fed.gateway(region);
        println!(
            "  {region} gateway: federation https://{}  court API https://{}",
            g.federation_addr, g.court_addr
        );
    }
    println!(
        "  agreement {} v{} signed by SC and CQ, hash {}",
        fed.agreement.terms.id,
        fed.agreement.terms.version,
        fed.agreement.terms.digest()?
    );

    let (stop, stopped) = watch::channel(false);
    let mut systems = Vec::new();
    let courts: Vec<_> = crate::cli::default_regions()
        .into_iter()
        .flat_map(|spec| spec.courts)
        .collect();
    for court in &courts {
        let system = CourtSystem {
            client: fed.court_client(court.as_str())?,
            poll: Duration::from_millis(25),
        };
        systems.push(tokio::spawn(system.run(stopped.clone())));
    }

    for spec in crate::cli::default_regions() {
        if let Some(centre) = spec.print_centre() {
            let system = printcentre::PrintCentreSystem {
                client: fed.print_centre_client(centre.as_str())?,
                poll: Duration::from_millis(25),
            };
            systems.push(tokio::spawn(system.run(stopped.clone())));
        }
    }

    let mut plan = plan();
    let sent = submit_all(&fed, &plan).await?;
    println!(
        "  {} requests submitted; court systems and print centres are answering…",
        sent.len()
    );
    let deadline = Instant::now() + DEADLINE;
    let mut journeys = follow(&fed, sent, deadline).await?;
    // The freeze is in place: Sichuan lifts it.
    if let Some(lift) = lift() {
        println!("  the freeze is in place; SC01 now asks CQ01 to lift it…\n");
        let sent = submit_all(&fed, std::slice::from_ref(&lift)).await?;
        journeys.extend(follow(&fed, sent, deadline).await?);
        plan.push(lift);
        // The lift closed the freeze's expiry warning: read the first journeys again.
        for j in &mut journeys {
            j.requester = fed
                .court_client(j.from.as_str())?
                .request(j.request_id)
                .await?;
        }
    }
    let _ = stop.send(true);
    for s in systems {
        let _ = s.await;
    }

    let rows: Vec<(&Journey, report::Assessment)> = journeys
        .iter()
        .map(|j| (j, assess(j, &fed.agreement)))
        .collect();
    print!("{}", render(&rows));
    // The requesting courts fetch the files the answers carry, and check their hashes.
    for j in &journeys {
        fetch_files(&fed, j).await?;
    }
    // The gateways' own counts agree with what the journeys show was sent.
    let counted = metrics::cross_check(&fed, &journeys).await?;
    let all_ok = counted && rows.len() == plan.len() && rows.iter().all(|(_, a)| a.ok());
    println!(
        "\n{} of {} journeys completed with every receipt verified ({:.1} s). State, PKI and per-region configs: {}",
        rows.iter().filter(|(_, a)| a.ok()).count(),
        rows.len(),
        started.elapsed().as_secs_f64(),
        state.display()
    );
    fed.shutdown().await;
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
