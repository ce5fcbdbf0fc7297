//! rules: what a document must satisfy beyond its schema, on both gateways: a freeze no
//! longer than its asset type allows (with the agreement's figures), every asset of a
//! preservation order owned by one of the order's respondents, and a filing docketed or
//! ruled on under the answering court's own case number.

use serde_json::Value;

use crate::agreement::ActiveAgreement;
use crate::envelope::Envelope;
use crate::problem::Problem;
use crate::schema::Violation;

/// rules: the law's rules beyond the schema, with the agreement's figures.
pub fn rules(agreement: &ActiveAgreement, e: &Envelope) -> Result<(), Problem> {
    crate::workflow::deadlines::check_freeze_periods(agreement.terms(), &e.kind, &e.payload)?;
    if e.kind.as_str() == "preservation.request" {
        owners(&e.schema.to_string(), &e.payload)?;
    }
    crate::workflow::filing::check_numbers(e)?;
    Ok(())
}

/// Every asset that names its owner (`ownerIndex`, preservation-request v2) names one of
/// the order's `respondents`: a schema cannot say so, so the gateway does, as a
/// `schema_violation` at the asset's `ownerIndex`.
fn owners(schema: &str, order: &Value) -> Result<(), Problem> {
    let Some(respondents) = order.get("respondents").and_then(Value::as_array) else {
        return Ok(());
    };
    let assets = order.get("assets").and_then(Value::as_array);
    let errors: Vec<Violation> = assets
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, a)| {
            let owner = a.get("ownerIndex")?.as_u64()?;
            (owner >= respondents.len() as u64).then(|| Violation {
                pointer: format!("/assets/{i}/ownerIndex"),
                keyword: "ownerIndex".to_owned(),
                message: format!(
                    "asset {i} names respondent {owner} as its owner, but the order names {} respondent(s), numbered from 0",
                    respondents.len()
                ),
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::schema_violation(schema, errors))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_asset_must_belong_to_a_respondent_of_the_order() {
        let order = json!({
            "respondents": [{"name": "陈光荣"}, {"name": "重庆光荣实业有限公司"}],
            "assets": [{"type": "movable", "ownerIndex": 1}, {"type": "movable", "ownerIndex": 2}],
        });
        let p = owners("preservation-request@2", &order).unwrap_err();
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].pointer, "/assets/1/ownerIndex");
        assert!(p.errors[0].message.contains("names 2 respondent(s)"), "{p}");
        let fine = json!({"respondents": [{}], "assets": [{"ownerIndex": 0}]});
        assert!(owners("preservation-request@2", &fine).is_ok());
        // A version 1 order has one respondent object and no owners to check.
        assert!(
            owners(
                "preservation-request@1",
                &json!({"respondent": {}, "assets": [{}]})
            )
            .is_ok()
        );
    }
}
