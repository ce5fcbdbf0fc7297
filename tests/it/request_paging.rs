//! `GET /v1/requests` pages with a cursor: every request once, newest first, however
//! many there are.

use std::collections::BTreeSet;

use crate::support::*;

#[tokio::test]
async fn a_courts_requests_page_with_a_cursor_newest_first() {
    let t = TestFed::start().await;
    let sc = t.court("SC0104");
    let raw = t.raw("SC0104");
    let mut sent = Vec::new();
    for _ in 0..7 {
        sent.push(
            submit(&sc, &submission("service.request", "CQ0103"))
                .await
                .request_id,
        );
        t.clock.advance(time::Duration::seconds(1));
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(c) => format!("/v1/requests?limit=3&after={c}"),
            None => "/v1/requests?limit=3".to_owned(),
        };
        let (status, page) = raw.get(&path).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "paging ends");
    }
    let newest_first: Vec<String> = sent.iter().rev().map(|id| id.to_string()).collect();
    assert_eq!(seen, newest_first, "each request once, newest first");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 7);
    let (status, p) = raw.get("/v1/requests?after=yesterday").await;
    assert_eq!(status, 400);
    assert_eq!(p["code"], "bad_request");
    t.shutdown().await;
}
