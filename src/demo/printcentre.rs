//! A small, honest simulator of a print-and-mail centre: it takes print jobs from its
//! inbox (most urgent first) and reports them printed, posted with a tracking number, and
//! delivered to the addressee, as a centre working with the post would.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::client::CourtClient;

/// A simulated print centre.
pub struct PrintCentreSystem {
    /// Its gateway client (the centre's own certificate).
    pub client: CourtClient,
    /// How often it looks at its inbox.
    pub poll: Duration,
}

/// The reports a centre makes on `job`, in order.
pub fn reports(job: &Value, serial: u32) -> Vec<Value> {
    let id = job["jobId"].clone();
    let pages: u64 = job["documents"]
        .as_array()
        .map(|d| d.iter().map(|x| x["pages"].as_u64().unwrap_or(1)).sum())
        .unwrap_or(1);
    let now = crate::clock::rfc3339(time::OffsetDateTime::now_utc());
    let at = |event: &str, extra: Value| {
        let mut e = json!({"jobId": id, "event": event, "at": now});
        if let (Some(e), Some(x)) = (e.as_object_mut(), extra.as_object()) {
            e.extend(x.clone());
        }
        e
    };
    vec![
        at("printed", json!({"pages": pages.max(1)})),
        at(
            "posted",
            json!({"trackingNumber": format!("KY{:011}", 20_261_125_000_u64 + u64::from(serial))}),
        ),
        at(
            "delivered",
            json!({"signedBy": job["addresseeName"], "relation": "self"}),
        ),
    ]
}

impl PrintCentreSystem {
    /// Polls its work queue until `stop` turns true, printing and posting every job.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut serial = 0;
        loop {
            match self.client.work_queue(20).await {
                Ok(page) => {
                    for job in page.items.iter().filter_map(|i| i.notice.as_ref()) {
                        serial += 1;
                        let id = job["jobId"].as_str().unwrap_or_default();
                        for report in reports(job, serial) {
                            if let Err(e) = self.client.print_event(id, &report).await {
                                tracing::warn!(job = id, error = %e, "print centre could not report");
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "print centre could not read its inbox"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
