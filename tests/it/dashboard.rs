//! The supervision dashboard, black-box: real gateways after real traffic, read over the
//! admin API's authentication; and in a real browser (headless Chromium through
//! WebDriver, see [`crate::browser`]): the numbers shown match what was sent, an overdue
//! request is in the overdue list and its timeline opens, a downed peer shows as down.
//! Screenshots go to the folder `KUAYU_SCREENSHOTS` names (the README's come from
//! `KUAYU_SCREENSHOTS=docs/screenshots`).

use kuayu::ids::{MessageId, RegionId};
use kuayu::pki::DevCa;
use kuayu::tls::Participant;
use time::macros::datetime;

use crate::browser::{Browser, Forwarder};
use crate::support::*;

/// Wednesday 25 November 2026, 16:00 in Beijing.
const START: time::OffsetDateTime = datetime!(2026-11-25 08:00 UTC);
/// Thursday 26 November, 24:00 in Beijing: the acknowledgement of work received on the
/// 25th is due (one working day).
const ACK_DUE: time::OffsetDateTime = datetime!(2026-11-26 16:00 UTC);

/// `GET path` on `region`'s admin socket: status and body.
async fn page(t: &TestFed, region: &str, path: &str) -> (u16, String) {
    t.fed
        .admin_socket(region)
        .unwrap()
        .health(path)
        .await
        .unwrap()
}

/// The text of the cell with `id` in `html`.
fn cell<'h>(html: &'h str, id: &str) -> &'h str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element {id}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    &rest[start..start + end]
}

/// Traffic: SC sends three service requests and two preservation orders to CQ; CQ
/// acknowledges all but the first service request. Returns that one.
async fn traffic(t: &TestFed) -> MessageId {
    let (sc0104, sc01) = (t.court("SC0104"), t.court("SC01"));
    let (cq0103, cq01) = (t.court("CQ0103"), t.court("CQ01"));
    let mut service = Vec::new();
    for _ in 0..3 {
        service.push(
            submit(&sc0104, &submission("service.request", "CQ0103"))
                .await
                .request_id,
        );
    }
    let mut freezes = Vec::new();
    for _ in 0..2 {
        freezes.push(
            submit(&sc01, &submission("preservation.request", "CQ01"))
                .await
                .request_id,
        );
    }
    for id in &service {
        reaches(&sc0104, *id, "relayed").await;
    }
    for id in &freezes {
        reaches(&sc01, *id, "relayed").await;
    }
    for id in &service[1..] {
        accept(&cq0103, *id, "service").await;
    }
    for id in &freezes {
        accept(&cq01, *id, "preservation").await;
    }
    for id in &service[1..] {
        reaches(&sc0104, *id, "accepted").await;
    }
    for id in &freezes {
        reaches(&sc01, *id, "accepted").await;
    }
    service[0]
}

#[tokio::test]
async fn the_dashboard_counts_what_was_sent_and_lists_what_is_overdue_on_sqlite() {
    counts_and_overdue("sqlite").await;
}

#[tokio::test]
async fn the_dashboard_counts_what_was_sent_and_lists_what_is_overdue_on_postgres() {
    counts_and_overdue("postgres").await;
}

/// The numbers and lists of the main page, and the timeline, with SC's store on `engine`.
async fn counts_and_overdue(engine: &str) {
    let location = match engine {
        "sqlite" => None,
        _ => match crate::engines::fresh_postgres().await {
            Some(l) => Some(l),
            None => return,
        },
    };
    let t = TestFed::start_with(START, |o| {
        if let Some(l) = location {
            o.databases.insert(RegionId::parse("SC").unwrap(), l);
        }
    })
    .await;
    let late = traffic(&t).await;

    let (status, sc) = page(&t, "SC", "/admin/dashboard?lang=en").await;
    assert_eq!(status, 200, "{sc}");
    assert_eq!(cell(&sc, "vol-service-requester-today"), "3");
    assert_eq!(cell(&sc, "vol-preservation-requester-today"), "2");
    assert_eq!(cell(&sc, "vol-partner-CQ-week"), "5");
    assert_eq!(cell(&sc, "vol-court-SC0104-today"), "3");
    assert_eq!(cell(&sc, "vol-court-SC01-today"), "2");
    assert_eq!(cell(&sc, "open-total"), "5");
    assert_eq!(cell(&sc, "overdue-count"), "0");
    // The unacknowledged request falls due by the end of the next working day.
    assert_eq!(cell(&sc, "due-next-count"), "1");
    let (_, cq) = page(&t, "CQ", "/admin/dashboard").await;
    assert_eq!(cell(&cq, "vol-service-executor-today"), "3");
    assert_eq!(cell(&cq, "vol-partner-SC-today"), "5");
    assert!(cq.contains("业务量"), "Chinese by default");

    t.clock.set(ACK_DUE);
    let (_, sc) = page(&t, "SC", "/admin/dashboard").await;
    assert_eq!(cell(&sc, "overdue-count"), "1");
    assert!(sc.contains(&format!("/admin/dashboard/requests/{late}")));
    assert_eq!(cell(&sc, "vol-service-requester-today"), "0", "a new day");
    assert_eq!(cell(&sc, "vol-service-requester-week"), "3");

    let (status, timeline) = page(&t, "SC", &format!("/admin/dashboard/requests/{late}")).await;
    assert_eq!(status, 200);
    assert_eq!(cell(&timeline, "request-id"), late.to_string());
    assert!(timeline.contains("id=\"request-overdue\""));
    assert!(timeline.contains("id=\"deadline-acknowledge\""));
    // The same trace id shown for the request as for its entries, and the metrics read
    // from the same store agree with the page.
    assert!(timeline.contains("id=\"request-trace\""));
    let (_, metrics) = page(&t, "SC", "/metrics").await;
    for series in [
        r#"kuayu_requests_overdue{kind="service"} 1"#,
        r#"kuayu_requests_overdue{kind="preservation"} 0"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == series),
            "{series} in:\n{metrics}"
        );
    }
    let (status, _) = page(
        &t,
        "SC",
        &format!("/admin/dashboard/requests/{}", MessageId::default()),
    )
    .await;
    assert_eq!(status, 404);

    // Over TLS, only an administrator's certificate opens it.
    let sc_region = RegionId::parse("SC").unwrap();
    let court = Participant::Court(kuayu::ids::CourtId::parse("SC0104").unwrap());
    let (cert, key) = t
        .fed
        .pki
        .issue_client(&sc_region, DevCa::Admin, "not-an-admin", Some(&court), true)
        .unwrap();
    let client = kuayu::admin::client::AdminClient::tls(
        &format!("https://{}", t.fed.gateway("SC").admin_addr.unwrap()),
        &t.fed.pki.pem(&sc_region, "admin-ca.crt").unwrap(),
        &kuayu::tls::Identity::load(&cert, &key).unwrap(),
    )
    .unwrap();
    assert_eq!(client.health("/admin/dashboard").await.unwrap().0, 401);
    let admin = t.fed.admin("SC", "alice").unwrap();
    assert_eq!(admin.health("/admin/dashboard").await.unwrap().0, 200);
    t.shutdown().await;
}

/// Writes `png` as `name` in the folder `KUAYU_SCREENSHOTS` names, if it does.
fn keep(name: &str, png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    if let Some(dir) = std::env::var_os("KUAYU_SCREENSHOTS") {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }
}

#[tokio::test]
async fn in_a_browser_the_dashboard_shows_the_traffic_the_overdue_work_and_a_downed_peer() {
    let Some((chromium, chromedriver)) = crate::browser::installed() else {
        return;
    };
    let mut t = TestFed::start_at(START).await;
    let late = traffic(&t).await;
    let sc = Forwarder::to(t.fed.gateway("SC").admin_socket.as_ref().unwrap()).await;
    let browser = Browser::start(&chromium, &chromedriver).await;

    // The numbers shown are those sent.
    browser.open(&format!("{}/admin/dashboard", sc.base)).await;
    assert_eq!(browser.text("#region").await, "SC");
    assert!(browser.text("#volumes h2").await.contains("业务量"));
    assert_eq!(browser.text("#vol-service-requester-today").await, "3");
    assert_eq!(browser.text("#vol-preservation-requester-today").await, "2");
    assert_eq!(browser.text("#vol-partner-CQ-today").await, "5");
    assert_eq!(browser.text("#open-total").await, "5");
    assert_eq!(browser.text("#due-next-count").await, "1");

    // The English toggle, remembered.
    let toggle = browser.find("#lang-toggle").await.unwrap();
    browser.click(&toggle).await;
    assert_eq!(browser.text("#volumes h2").await, "Volumes");
    browser.open(&format!("{}/admin/dashboard", sc.base)).await;
    assert_eq!(
        browser.text("#volumes h2").await,
        "Volumes",
        "the cookie keeps it"
    );

    // Past the acknowledgement's due time the unacknowledged request is overdue, and its
    // link opens its timeline.
    t.clock.set(ACK_DUE + time::Duration::hours(1));
    browser.open(&format!("{}/admin/dashboard", sc.base)).await;
    assert_eq!(browser.text("#overdue-count").await, "1");
    let links = browser.find_all("#overdue a.request").await;
    assert_eq!(links.len(), 1);
    assert_eq!(
        browser.attribute(&links[0], "title").await.as_deref(),
        Some(late.to_string().as_str())
    );
    browser.click(&links[0]).await;
    assert!(browser.url().await.contains(&late.to_string()));
    assert_eq!(browser.text("#request-id").await, late.to_string());
    assert_eq!(browser.text("#request-state").await, "relayed Overdue");
    assert!(
        browser
            .text("#deadline-acknowledge")
            .await
            .contains("overdue")
    );
    assert!(browser.find("#history tr.event").await.is_some());
    keep("timeline-en.png", &browser.screenshot().await);

    // CQ goes down; SC's next request cannot be relayed: CQ shows as down, with its backlog.
    t.fed.stop("CQ").await;
    let waiting = submit(&t.court("SC0104"), &submission("service.request", "CQ0103")).await;
    browser
        .open(&format!("{}/admin/dashboard?lang=zh", sc.base))
        .await;
    let state = eventually("CQ shown down", || async {
        browser.open(&format!("{}/admin/dashboard", sc.base)).await;
        let row = browser.find("#peer-CQ td.breaker").await?;
        let state = browser.attribute(&row, "data-state").await?;
        (state != "closed").then_some(state)
    })
    .await;
    assert_eq!(state, "open");
    assert_eq!(browser.text("#peer-CQ td.breaker .pill").await, "中断");
    assert_eq!(browser.text("#peer-CQ td.backlog").await, "1");
    assert_eq!(browser.text("#vol-service-requester-today").await, "1");
    let _ = waiting;
    keep("dashboard-zh.png", &browser.screenshot().await);
    browser
        .open(&format!("{}/admin/dashboard?lang=en", sc.base))
        .await;
    keep("dashboard-en.png", &browser.screenshot().await);
    drop(browser);
    t.shutdown().await;
}
