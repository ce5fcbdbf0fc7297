//! Per-agreement policy, evaluated by Cedar on both gateways for every message.
//!
//! The request Cedar sees:
//! - principal: the sending court, `Court::"SC0104"` with `code`, `region`, `level`
//!   (`high` / `intermediate` / `basic`, from the agreement's court list or the code);
//! - action: the message kind, e.g. `Action::"evidence.request"`; a preservation order
//!   is `Action::"preservation.freeze"` or `Action::"preservation.lift"`;
//! - resource: the receiving court, with the same attributes;
//! - context: facts read from the payload and the envelope (see [`FACTS`]).
//!
//! Policies are validated against a schema generated from the agreement's kinds when the
//! agreement is checked, so a policy naming an unknown attribute or action is refused
//! then, not discovered at the first message. Cedar denies unless some policy permits
//! and no policy forbids; a denial names the policies that decided it.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy,
    PolicyId, PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use serde_json::Value;

use time::OffsetDateTime;

use crate::agreement::Terms;
use crate::envelope::Envelope;
use crate::ids::{CourtId, MessageKind};
use crate::recent::Recent;

mod facts;

pub use facts::{FACTS, facts};

/// The compiled policies of one agreement.
pub struct PolicyEngine {
    policies: PolicySet,
    schema: Schema,
    descriptions: HashMap<String, String>,
    authorizer: Authorizer,
    /// The Cedar entities of pairs of courts lately decided on (sender, recipient): they
    /// depend on the agreement's terms alone, and checking them against the schema on
    /// every message cost as much as the decision.
    courts: Recent<(CourtId, CourtId), Arc<Courts>>,
}

/// The principal and resource of a decision, and the entities that describe them.
struct Courts {
    principal: EntityUid,
    resource: EntityUid,
    entities: Entities,
}

/// Why a message was refused by policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The policies that decided it (empty when no policy permits it).
    pub policies: Vec<String>,
    /// What a person reads.
    pub detail: String,
}

/// The Cedar action of a message: its kind, except that a preservation order is a freeze
/// or a lift.
pub fn action_of(kind: &MessageKind, payload: &Value) -> String {
    if kind.as_str() == "preservation.request" {
        let lift = payload.get("mode").and_then(Value::as_str) == Some("lift");
        return if lift {
            "preservation.lift".into()
        } else {
            "preservation.freeze".into()
        };
    }
    kind.as_str().to_owned()
}

fn actions(terms: &Terms) -> Vec<String> {
    let mut out: Vec<String> = terms
        .kinds
        .keys()
        .flat_map(|k| {
            if k.as_str() == "preservation.request" {
                vec![
                    "preservation.freeze".to_owned(),
                    "preservation.lift".to_owned(),
                ]
            } else {
                vec![k.as_str().to_owned()]
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn schema_text(terms: &Terms) -> String {
    let actions: Vec<String> = actions(terms).iter().map(|a| format!("{a:?}")).collect();
    format!(
        "entity Court = {{ \"code\": String, \"region\": String, \"level\": String }};\n{FACTS}\n\
         action {} appliesTo {{ principal: [Court], resource: [Court], context: Facts }};\n",
        actions.join(", ")
    )
}

impl PolicyEngine {
    /// Parses and validates the agreement's policies.
    pub fn compile(terms: &Terms) -> Result<Self, String> {
        let (schema, _) = Schema::from_cedarschema_str(&schema_text(terms))
            .map_err(|e| format!("policy schema: {e}"))?;
        let mut policies = PolicySet::new();
        let mut descriptions = HashMap::new();
        for doc in &terms.policies {
            let policy = Policy::parse(Some(PolicyId::new(&doc.id)), &doc.cedar)
                .map_err(|e| format!("policy {}: not valid Cedar: {e}", doc.id))?;
            policies
                .add(policy)
                .map_err(|e| format!("policy {}: {e}", doc.id))?;
            descriptions.insert(doc.id.clone(), doc.description.clone());
        }
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
            return Err(format!(
                "policies do not fit kuayu's policy schema: {}",
                errors.join("; ")
            ));
        }
        Ok(PolicyEngine {
            policies,
            schema,
            descriptions,
            authorizer: Authorizer::new(),
            courts: Recent::new(64),
        })
    }

    /// Decides whether `envelope` may pass under `terms`, with the time facts (`hour`,
    /// `now`) taken at `at`: the deciding gateway's clock, never the sender's `createdAt`.
    pub fn decide(
        &self,
        terms: &Terms,
        envelope: &Envelope,
        at: OffsetDateTime,
    ) -> Result<(), Denial> {
        let action = action_of(&envelope.kind, &envelope.payload);
        let internal = |why: String| Denial {
            policies: vec![],
            detail: format!("policy evaluation failed: {why}"),
        };
        let courts = self
            .courts_of(terms, &envelope.sender.court, &envelope.recipient.court)
            .map_err(internal)?;
        let action_uid = uid("Action", &action).map_err(internal)?;
        let context =
            Context::from_pairs(facts(envelope, at)).map_err(|e| internal(e.to_string()))?;
        // Not checked against the schema here: the context is [`facts`], which fit
        // [`FACTS`] by construction (a test checks it for every kind), and an action
        // outside the agreement's kinds is permitted by no policy (the policies were
        // validated against the schema when the agreement was loaded). The check cost
        // as much as the decision.
        let request = Request::new(
            courts.principal.clone(),
            action_uid,
            courts.resource.clone(),
            context,
            None,
        )
        .map_err(|e| internal(e.to_string()))?;
        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &courts.entities);
        // The policies, not the errors: an evaluation error may quote a value of the
        // payload, and no log line carries one.
        let erring: Vec<String> = response
            .diagnostics()
            .errors()
            .map(
                |cedar_policy::AuthorizationError::PolicyEvaluationError(e)| {
                    e.policy_id().to_string()
                },
            )
            .collect();
        if !erring.is_empty() {
            tracing::warn!(policies = ?erring, %action, "policy evaluation errors (those policies were skipped)");
        }
        if response.decision() == Decision::Allow {
            return Ok(());
        }
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|p| p.to_string())
            .collect();
        policies.sort();
        let who = format!(
            "{action} from {} to {}",
            envelope.sender.court, envelope.recipient.court
        );
        let detail = if policies.is_empty() {
            format!("no policy of agreement {} permits {who}", terms.id)
        } else {
            let named: Vec<String> = policies
                .iter()
                .map(|p| match self.descriptions.get(p) {
                    Some(d) => format!("{p} ({d})"),
                    None => p.clone(),
                })
                .collect();
            format!(
                "agreement {} policy denies {who}: {}",
                terms.id,
                named.join("; ")
            )
        };
        Err(Denial { policies, detail })
    }
}

impl PolicyEngine {
    /// The entities of `sender` and `recipient` under `terms` (kept for the next message
    /// between the same two courts).
    fn courts_of(
        &self,
        terms: &Terms,
        sender: &CourtId,
        recipient: &CourtId,
    ) -> Result<Arc<Courts>, String> {
        if let Some(kept) = self.courts.get(|(s, r)| s == sender && r == recipient, 0) {
            return Ok(kept);
        }
        let principal = court_entity(terms, sender)?;
        let resource = court_entity(terms, recipient)?;
        let courts = Arc::new(Courts {
            principal: principal.uid(),
            resource: resource.uid(),
            entities: Entities::from_entities([principal, resource], Some(&self.schema))
                .map_err(|e| e.to_string())?,
        });
        let pair = (sender.clone(), recipient.clone());
        self.courts.put(pair, Arc::clone(&courts), 0, u64::MAX);
        Ok(courts)
    }
}

fn uid(kind: &str, id: &str) -> Result<EntityUid, String> {
    let ty = EntityTypeName::from_str(kind).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(ty, EntityId::new(id)))
}

fn court_entity(terms: &Terms, court: &CourtId) -> Result<Entity, String> {
    let attrs = HashMap::from([
        (
            "code".to_owned(),
            RestrictedExpression::new_string(court.to_string()),
        ),
        (
            "region".to_owned(),
            RestrictedExpression::new_string(court.region().to_string()),
        ),
        (
            "level".to_owned(),
            RestrictedExpression::new_string(terms.court_level(court).as_str().to_owned()),
        ),
    ]);
    Entity::new(uid("Court", court.as_str())?, attrs, HashSet::new()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_facts_of_every_kind_fit_the_schema_the_decision_no_longer_checks() {
        // `decide` builds its Cedar request without the schema; this is the check it
        // left out, for every action of the sample agreement, with every fact present.
        let agreement =
            crate::agreement::Agreement::from_json(crate::devnet::SAMPLE_AGREEMENT).unwrap();
        let terms = &agreement.terms;
        let engine = PolicyEngine::compile(terms).unwrap();
        let mut e = facts::sample_envelope(
            "2026-12-03T10:00:00Z",
            serde_json::json!({
                "amount": {"value": 1200.5}, "urgency": "urgent", "mode": "freeze",
                "copies": 2, "documents": [{"pages": 3}],
                "items": [{"kind": "document"}, {"kind": "witness"}],
            }),
        );
        let mut checked = 0;
        for action in actions(terms) {
            let courts = engine
                .courts_of(terms, &e.sender.court, &e.recipient.court)
                .unwrap();
            e.test = checked % 2 == 1;
            let context = Context::from_pairs(facts(&e, e.created_at)).unwrap();
            Request::new(
                courts.principal.clone(),
                uid("Action", &action).unwrap(),
                courts.resource.clone(),
                context,
                Some(&engine.schema),
            )
            .unwrap_or_else(|err| panic!("{action}: {err}"));
            checked += 1;
        }
        assert!(
            checked >= 5,
            "only {checked} actions in the sample agreement"
        );
    }
}
