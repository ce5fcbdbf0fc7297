//! What the relay reads for each message it sends: a new request's message that its
//! commit handed over, while the relay is caught up, starts without a read of the outbox,
//! and goes with the envelope its commit handed over rather than the stored row.

use crate::health::{sample, scrape, with_health};
use crate::support::*;

#[tokio::test]
async fn a_caught_up_relay_starts_new_requests_without_reading_its_outbox() {
    const MESSAGES: usize = 30;
    let t = with_health().await;
    let sc = t.court("SC0104");
    for _ in 0..MESSAGES {
        let id = submit(&sc, &submission("service.request", "CQ0103"))
            .await
            .request_id;
        reaches(&sc, id, "relayed").await;
    }
    let text = scrape(&t, "SC").await;
    assert_eq!(
        sample(
            &text,
            r#"kuayu_relay_deliveries_total{peer="CQ",outcome="delivered"}"#
        ),
        Some(MESSAGES as f64),
        "{text}"
    );
    // The reads left: the first pass, and a pass the longest sleep ends (every 500 ms).
    let reads = sample(&text, "kuayu_relay_outbox_reads_total").unwrap_or_default();
    assert!(
        reads <= (MESSAGES / 5) as f64,
        "{reads} reads of the outbox for {MESSAGES} messages"
    );
    // Each delivery took the envelope its commit handed over, none read it back.
    let fresh = crate::attachments::gateway(&t, "SC").relay_fresh.len();
    assert_eq!(fresh, 0, "{fresh} envelopes handed over and not taken");
    t.shutdown().await;
}
