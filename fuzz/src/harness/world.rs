//! What every target starts from, made once per process: the sample agreement and the
//! TEST-ONLY keys that signed it, the embedded schemas, one real body per fixture and
//! message kind, and the dictionary of keys and strings those documents use.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use kuayu::agreement::{self, ActiveAgreement, Agreement, AgreementRegistry, PartyRoots};
use kuayu::crypto::{PublicKey, SigningKey};
use kuayu::envelope::{Address, AgreementRef, Envelope, Priority, SchemaRef};
use kuayu::ids::{CourtId, Family, MessageId, MessageKind, RegionId};
use kuayu::schema::{self, SchemaCatalog};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

/// The TEST-ONLY keys of `agreements/test-only/`, which signed `agreements/sc-cq.json`.
const KEYS: &[(&str, &str, &str, &str)] = &[
    (
        "SC",
        include_str!("../../../agreements/test-only/SC/root-key.pem"),
        include_str!("../../../agreements/test-only/SC/root-key.pub"),
        include_str!("../../../agreements/test-only/SC/message-key.pem"),
    ),
    (
        "CQ",
        include_str!("../../../agreements/test-only/CQ/root-key.pem"),
        include_str!("../../../agreements/test-only/CQ/root-key.pub"),
        include_str!("../../../agreements/test-only/CQ/message-key.pem"),
    ),
];

/// Courts of each region that bodies are sent from and to.
const COURTS: &[&str] = &["SC0104", "SC01", "SC00", "CQ0103", "CQ01", "CQ00"];

/// One real document a court could send: a fixture of the schema its kind uses.
pub struct Body {
    /// The message kind.
    pub kind: MessageKind,
    /// The schema (and version) the fixture was written for.
    pub schema: SchemaRef,
    /// The document.
    pub payload: Value,
    /// A direction the agreement permits the kind in.
    pub from: RegionId,
    /// Its receiving region.
    pub to: RegionId,
}

/// Object keys and strings seen in the real documents: what mutations put in.
pub struct Dict {
    /// Object member names.
    pub keys: Vec<String>,
    /// String values, plus [`super::json::STRINGS`].
    pub strings: Vec<String>,
}

/// Everything the targets share.
pub struct World {
    /// The sample agreement as committed.
    pub sample_text: &'static str,
    /// The same, parsed.
    pub sample: Agreement,
    /// The sample as JSON.
    pub sample_json: Value,
    /// Canonical bytes of the sample's terms (what its signatures cover).
    pub sample_terms: Vec<u8>,
    /// The sample, activated with the party roots.
    pub active: ActiveAgreement,
    /// A registry holding the sample, as a gateway of `own` would.
    pub registry: AgreementRegistry,
    /// Party root public keys.
    pub roots: PartyRoots,
    /// Party root private keys (TEST ONLY), to sign changed terms.
    pub root_keys: Vec<(RegionId, SigningKey)>,
    /// Gateway message keys (TEST ONLY), to seal envelopes.
    pub message_keys: Vec<(RegionId, SigningKey)>,
    /// The schemas built into kuayu.
    pub schemas: SchemaCatalog,
    /// The region of the gateway that checks.
    pub own: RegionId,
    /// The receiver's clock: inside the sample's validity window.
    pub now: OffsetDateTime,
    /// One body per fixture and kind that uses its schema.
    pub bodies: Vec<Body>,
    /// Court codes bodies go between.
    pub courts: Vec<CourtId>,
    /// Keys and strings of the payloads.
    pub dict: Dict,
    /// Keys and strings of the agreement.
    pub agreement_dict: Dict,
}

impl World {
    /// The message key of `region`'s gateway, or SC's for a region that has none.
    pub fn message_key(&self, region: &RegionId) -> &SigningKey {
        let found = self.message_keys.iter().find(|(r, _)| r == region);
        &found.unwrap_or(&self.message_keys[0]).1
    }

    /// An unsigned envelope carrying `body` (with `payload`), as the sending gateway
    /// builds it, created at `at`.
    pub fn envelope(&self, body: &Body, payload: Value, at: OffsetDateTime) -> Envelope {
        let terms = &self.sample.terms;
        let court = |region: &RegionId| {
            let found = self.courts.iter().find(|c| &c.region() == region);
            found.unwrap_or(&self.courts[0]).clone()
        };
        Envelope {
            id: id("0190c2a4-6f1e-7d2a-8b3c-4d5e6f708192"),
            kind: body.kind.clone(),
            schema: body.schema.clone(),
            agreement: AgreementRef {
                id: terms.id.clone(),
                version: terms.version,
                sha256: self.active.digest,
            },
            sender: Address::of(&court(&body.from)),
            recipient: Address::of(&court(&body.to)),
            in_reply_to: (!body.kind.is_request())
                .then(|| id("0190c2a4-0000-7000-8000-000000000001")),
            created_at: at,
            expires_at: at + time::Duration::hours(i64::from(terms.limits.message_ttl_hours)),
            priority: if body.kind.family() == Family::Preservation {
                Priority::High
            } else {
                Priority::Normal
            },
            test: false,
            payload,
            attachments: vec![],
            signature: None,
        }
    }
}

/// Fixed ids, so that a case runs the same every time.
fn id(text: &str) -> MessageId {
    MessageId::parse(text).expect("a message id")
}

/// The shared world, made on first use.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(make)
}

fn make() -> World {
    let sample_text = kuayu::devnet::SAMPLE_AGREEMENT;
    let sample = Agreement::from_json(sample_text).expect("the sample agreement parses");
    let sample_json: Value = serde_json::from_str(sample_text).expect("the sample is JSON");
    let sample_terms =
        kuayu::crypto::canonical(&sample.terms).expect("the sample's terms canonicalise");
    let region = |r: &str| RegionId::parse(r).expect("a region code");
    let mut roots = PartyRoots::new();
    let mut root_keys = Vec::new();
    let mut message_keys = Vec::new();
    for (r, root_pem, root_pub, message_pem) in KEYS {
        let r = region(r);
        let root = PublicKey::parse(root_pub.trim()).expect("a TEST-ONLY root public key");
        roots.insert(r.clone(), root);
        root_keys.push((
            r.clone(),
            SigningKey::from_pem(root_pem).expect("a TEST-ONLY root key"),
        ));
        message_keys.push((
            r,
            SigningKey::from_pem(message_pem).expect("a TEST-ONLY message key"),
        ));
    }
    let schemas = SchemaCatalog::embedded().expect("the embedded schemas compile");
    let own = region("SC");
    let now = datetime!(2026-11-25 08:00 UTC);
    let activate = || {
        agreement::activate(sample.clone(), &own, &roots, &schemas, now)
            .expect("the sample activates with the TEST-ONLY roots")
    };
    let active = activate();
    let registry = AgreementRegistry::new(own.clone());
    registry.install_active(activate());

    let terms = &sample.terms;
    let mut bodies = Vec::new();
    for fixture in schema::embedded_fixtures() {
        let Ok(payload) = fixture.document() else {
            continue;
        };
        for (kind, rule) in &terms.kinds {
            if rule.schema != fixture.schema {
                continue;
            }
            for d in terms.directions.iter().filter(|d| d.kinds.contains(kind)) {
                bodies.push(Body {
                    kind: kind.clone(),
                    schema: SchemaRef {
                        id: fixture.schema.to_owned(),
                        version: fixture.version,
                    },
                    payload: payload.clone(),
                    from: d.from.clone(),
                    to: d.to.clone(),
                });
            }
        }
    }
    assert!(!bodies.is_empty(), "the embedded fixtures give bodies");
    let courts = COURTS
        .iter()
        .map(|c| CourtId::parse(c).expect("a court code"))
        .collect();
    let dict = dict_of(bodies.iter().map(|b| &b.payload));
    let agreement_dict = dict_of(std::iter::once(&sample_json));
    World {
        sample_text,
        sample,
        sample_json,
        sample_terms,
        active,
        registry,
        roots,
        root_keys,
        message_keys,
        schemas,
        own,
        now,
        bodies,
        courts,
        dict,
        agreement_dict,
    }
}

fn dict_of<'v>(docs: impl Iterator<Item = &'v Value>) -> Dict {
    let mut keys = BTreeSet::new();
    let mut strings: BTreeSet<String> = super::json::STRINGS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let mut stack: Vec<&Value> = docs.collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    keys.insert(k.clone());
                    stack.push(v);
                }
            }
            Value::Array(a) => stack.extend(a),
            // Long texts (PEM, Cedar) are kept too: mutations cut and splice them.
            Value::String(s) => {
                strings.insert(s.clone());
            }
            _ => {}
        }
    }
    Dict {
        keys: keys.into_iter().collect(),
        strings: strings.into_iter().collect(),
    }
}
