//! The attachments stage of the pipeline: every attachment a message lists must be held
//! at this gateway, with the size the message states, within the agreement's limit. A
//! court's gateway checks it before it accepts a submission; the receiving gateway
//! again before it accepts the relayed envelope.

use crate::agreement::ActiveAgreement;
use crate::envelope::AttachmentRef;
use crate::gateway::Gateway;
use crate::problem::{Code, Problem};

/// Who was supposed to put the blob here, for the refusal's detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploader {
    /// The submitting court (`PUT /v1/attachments/{sha256}`).
    Court,
    /// The sending gateway (`PUT /federation/v1/attachments/{sha256}`).
    Gateway,
}

impl Uploader {
    fn route(self) -> &'static str {
        match self {
            Uploader::Court => "/v1/attachments",
            Uploader::Gateway => "/federation/v1/attachments",
        }
    }
}

/// Each of `list` is within `agreement`'s size limit and held here with its stated size.
pub async fn held(
    g: &Gateway,
    agreement: &ActiveAgreement,
    list: &[AttachmentRef],
    uploader: Uploader,
) -> Result<(), Problem> {
    let terms = agreement.terms();
    let limit = super::max_bytes(&terms.limits);
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
        let route = uploader.route();
        match g
            .store
            .attachment(&a.sha256)
            .await
            .map_err(Problem::internal)?
        {
            Some(blob) if blob.bytes == a.bytes => {}
            Some(blob) => {
                return Err(Problem::new(
                    Code::AttachmentMissing,
                    format!(
                        "attachment {} says {} bytes, but the blob {} stored at the {} gateway has {}; \
                         state its true size",
                        a.doc_id, a.bytes, a.sha256, g.region, blob.bytes
                    ),
                ));
            }
            None => {
                return Err(Problem::new(
                    Code::AttachmentMissing,
                    format!(
                        "attachment {} ({}, {} bytes) is not stored at the {} gateway; upload it first \
                         with PUT {route}/{}",
                        a.doc_id, a.sha256, a.bytes, g.region, a.sha256
                    ),
                ));
            }
        }
    }
    Ok(())
}
