//! The attachments stage of the pipeline: every attachment a message lists must be held
//! at this gateway, with the size the message states, within the agreement's limit. A
//! court's gateway checks it before it accepts a submission; the receiving gateway
//! again before it accepts the relayed envelope.

use crate::agreement::ActiveAgreement;
use crate::envelope::AttachmentRef;
use crate::gateway::Gateway;
use crate::problem::{Code, Problem};
use crate::store::BlobSource;

/// Each of `list` is within `agreement`'s size limit, held here with its stated size, and
/// visible to `who` (the court submitting, or the peer gateway relaying): one cannot list
/// a blob it only learned the hash of. A blob `who` may not see gets the same refusal as
/// one that is not here, which reveals nothing about it (not even its size).
pub async fn held(
    g: &Gateway,
    agreement: &ActiveAgreement,
    list: &[AttachmentRef],
    who: &BlobSource,
) -> Result<(), Problem> {
    let terms = agreement.terms();
    let limit = super::max_bytes(&terms.limits);
    let route = match who {
        BlobSource::Court(_) => "/v1/attachments",
        BlobSource::Gateway(_) => "/federation/v1/attachments",
    };
    for a in list {
        if a.bytes > limit {
            return Err(Problem::new(
                Code::PayloadTooLarge,
                format!(
                    "attachment {} ({}) is {} bytes; agreement {} allows at most {limit} per attachment",
                    a.doc_id, a.sha256, a.bytes, terms.id
                ),
            ));
        }
        let visible = g
            .store
            .attachment_visible(&a.sha256, who)
            .await
            .map_err(Problem::internal)?;
        let blob = if visible {
            g.store
                .attachment(&a.sha256)
                .await
                .map_err(Problem::internal)?
        } else {
            None
        };
        match blob {
            Some(blob) if blob.bytes == a.bytes => {}
            Some(blob) => {
                return Err(Problem::new(
                    Code::AttachmentMissing,
                    format!(
                        "attachment {} says {} bytes, but the blob {} you delivered to the {} gateway has {}; \
                         state its true size",
                        a.doc_id, a.bytes, a.sha256, g.region, blob.bytes
                    ),
                ));
            }
            None => {
                return Err(Problem::new(
                    Code::AttachmentMissing,
                    format!(
                        "attachment {} ({}, {} bytes) is not stored at the {} gateway for {who}; upload it first \
                         with PUT {route}/{}",
                        a.doc_id, a.sha256, a.bytes, g.region, a.sha256
                    ),
                ));
            }
        }
    }
    Ok(())
}
