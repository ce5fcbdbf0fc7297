//! The conformance kit: sends every fixture of an agreement's schemas to a partner
//! gateway, as test-mode envelopes (checked like any message, never delivered to a
//! court), and reports whether the partner treats each as the agreement says: what the
//! agreement accepts answered with a relay receipt that verifies, what it refuses refused
//! with the same problem code. The expected outcome comes from running kuayu's own
//! checks on the agreement, so the kit needs no list of answers kept by hand.
//!
//! The kit acts as one party's gateway: it needs that party's federation certificate and
//! message key (test credentials in a test environment).

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::agreement::{ActiveAgreement, Agreement};
use crate::api::RelayAnswer;
use crate::crypto::SigningKey;
use crate::envelope::{Address, AgreementRef, Envelope, Priority, SchemaRef};
use crate::ids::{CourtId, MessageId, RegionId};
use crate::pipeline;
use crate::problem::Problem;
use crate::schema::{SchemaCatalog, embedded_fixtures};
use crate::tls::{self, Identity};

/// Who the kit speaks as, and to whom.
pub struct Kit {
    /// The agreement (as both sides should have loaded it).
    pub agreement: Agreement,
    /// The region the kit speaks for.
    pub region: RegionId,
    /// Its federation certificate.
    pub identity: Identity,
    /// Its gateway message key.
    pub key: SigningKey,
    /// The partner's federation API base URL.
    pub peer_url: String,
    /// The sending court (default: the first court the agreement lists for the region).
    pub from: Option<CourtId>,
    /// The receiving court (default: the first court the agreement lists for the peer).
    pub to: Option<CourtId>,
}

/// One fixture's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// `kind schema@version fixture`.
    pub fixture: String,
    /// What the agreement says: `accepted` or a problem code.
    pub expected: String,
    /// What the partner did.
    pub actual: String,
    /// Whether they agree.
    pub conforms: bool,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The partner.
    pub peer: String,
    /// Every fixture sent.
    pub cases: Vec<Case>,
}

impl Report {
    /// The cases that did not conform.
    pub fn failures(&self) -> impl Iterator<Item = &Case> {
        self.cases.iter().filter(|c| !c.conforms)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.cases {
            let mark = if c.conforms { "ok  " } else { "FAIL" };
            writeln!(
                f,
                "{mark} {:<70} expected {:<20} got {}",
                c.fixture, c.expected, c.actual
            )?;
        }
        let failed = self.failures().count();
        write!(
            f,
            "{}: {} of {} fixtures conform, {failed} do not",
            self.peer,
            self.cases.len() - failed,
            self.cases.len()
        )
    }
}

fn first_court(agreement: &Agreement, region: &RegionId) -> Option<CourtId> {
    agreement
        .terms
        .party(region)?
        .courts
        .first()
        .map(|c| c.code.clone())
}

/// Runs the kit.
pub async fn run(kit: &Kit, now: OffsetDateTime) -> Result<Report, String> {
    let terms = &kit.agreement.terms;
    let peer = terms
        .parties
        .iter()
        .find(|p| p.region != kit.region)
        .ok_or("the agreement names no other party")?;
    let from = kit
        .from
        .clone()
        .or_else(|| first_court(&kit.agreement, &kit.region))
        .ok_or("give --from-court")?;
    let to = kit
        .to
        .clone()
        .or_else(|| first_court(&kit.agreement, &peer.region))
        .ok_or("give --to-court")?;
    let local = ActiveAgreement::candidate(kit.agreement.clone()).map_err(|e| e.to_string())?;
    let schemas = SchemaCatalog::embedded().map_err(|e| e.to_string())?;
    let anchors = tls::parse_certs(&peer.trust_anchor).map_err(|e| e.to_string())?;
    let http = tls::http_client(&anchors, &kit.identity, Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let url = format!(
        "{}/federation/v1/messages",
        kit.peer_url.trim_end_matches('/')
    );
    let digest = terms.digest().map_err(|e| e.to_string())?;

    let mut cases = Vec::new();
    for direction in terms
        .directions
        .iter()
        .filter(|d| d.from == kit.region && d.to == peer.region)
    {
        for kind in &direction.kinds {
            let Some(rule) = terms.kinds.get(kind) else {
                continue;
            };
            for window in rule.versions.iter().filter(|w| w.admits(now)) {
                let fixtures = embedded_fixtures()
                    .filter(|f| f.schema == rule.schema && f.version == window.version);
                for fixture in fixtures {
                    let Ok(payload) = fixture.document() else {
                        continue;
                    };
                    let envelope = Envelope {
                        id: MessageId::new(),
                        kind: kind.clone(),
                        schema: SchemaRef {
                            id: rule.schema.clone(),
                            version: window.version,
                        },
                        agreement: AgreementRef {
                            id: terms.id.clone(),
                            version: terms.version,
                            sha256: digest,
                        },
                        sender: Address::of(&from),
                        recipient: Address::of(&to),
                        in_reply_to: (!kind.is_request()).then(MessageId::new),
                        created_at: now,
                        expires_at: now
                            + time::Duration::hours(i64::from(terms.limits.message_ttl_hours)),
                        priority: Priority::Normal,
                        test: true,
                        payload,
                        attachments: vec![],
                        signature: None,
                    };
                    let expected = match pipeline::check_terms(&schemas, &local, &envelope, now) {
                        Ok(()) => "accepted".to_owned(),
                        Err(p) => p.code,
                    };
                    let sealed = envelope
                        .seal(&kit.region, &kit.key)
                        .map_err(|e| e.to_string())?;
                    let actual = match http.post(&url).json(&sealed.json).send().await {
                        Err(e) => format!("transport: {}", crate::client::error_text(&e)),
                        Ok(r) if r.status().is_success() => match r.json::<RelayAnswer>().await {
                            Ok(a)
                                if a.receipt.envelope_sha256 == sealed.digest
                                    && a.receipt.verify(&peer.message_key) =>
                            {
                                "accepted".into()
                            }
                            Ok(_) => "accepted with a receipt that does not verify".into(),
                            Err(e) => format!("accepted without a receipt: {e}"),
                        },
                        Ok(r) => {
                            let status = r.status();
                            match r.json::<Problem>().await {
                                Ok(p) => p.code,
                                Err(_) => format!("HTTP {status} without a problem document"),
                            }
                        }
                    };
                    cases.push(Case {
                        fixture: format!(
                            "{kind} {}@{} {}{}",
                            rule.schema,
                            window.version,
                            if fixture.valid { "valid/" } else { "invalid/" },
                            fixture.name
                        ),
                        conforms: expected == actual,
                        expected,
                        actual,
                    });
                }
            }
        }
    }
    Ok(Report {
        peer: format!("{} at {}", peer.region, kit.peer_url),
        cases,
    })
}
