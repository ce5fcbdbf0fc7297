//! What the relay reads for each message it sends: its outbox about once a message (not at
//! every wake), and the envelope its commit handed over rather than the stored row.

use crate::health::{sample, scrape, with_health};
use crate::support::*;

#[tokio::test]
async fn the_relay_reads_its_outbox_about_once_a_message_not_at_every_wake() {
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
    let reads = sample(&text, "kuayu_relay_outbox_reads_total").unwrap_or_default();
    assert!(
        reads >= MESSAGES as f64 && reads < 2.0 * MESSAGES as f64,
        "{reads} reads of the outbox for {MESSAGES} messages"
    );
    // Each delivery took the envelope its commit handed over, none read it back.
    let fresh = crate::attachments::gateway(&t, "SC").relay_fresh.len();
    assert_eq!(fresh, 0, "{fresh} envelopes handed over and not taken");
    t.shutdown().await;
}
