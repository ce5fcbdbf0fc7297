//! No double freeze: a freeze on an asset that is already frozen queues behind the first
//! (轮候), and the result must say so. The executing gateway knows every freeze its
//! courts executed, so it checks each freeze result against them: an asset held by an
//! earlier freeze not yet lifted must be reported `queuePosition: waiting` with its rank
//! (1 when next in line); a free asset, `first`. A lift result releases the holds of the
//! ruling it lifts, and the next in line moves up.

use serde_json::Value;

use crate::ids::MessageId;
use crate::problem::{Code, Problem};

/// An asset as the registers know it: bank and account, title number, company code,
/// vehicle identification number, securities firm and account.
pub fn asset_key(asset: &Value) -> Option<String> {
    let text = |f: &str| asset.get(f).and_then(Value::as_str);
    match text("type")? {
        "bank_deposit" => Some(format!(
            "bank:{}:{}",
            text("bankCode").or(text("bankName"))?,
            text("accountNumber")?
        )),
        "real_estate" => Some(format!("estate:{}", text("registryNumber")?)),
        "equity" => Some(format!("equity:{}", text("companyCode")?)),
        "vehicle" => Some(format!("vehicle:{}", text("vin")?)),
        "securities" => Some(format!(
            "securities:{}:{}",
            text("securitiesFirm")?,
            text("securitiesAccount")?
        )),
        other => Some(format!("{other}:{}", text("description")?)),
    }
}

/// A case or ruling number in the form kuayu compares: ASCII brackets read as the
/// full-width ones case systems print (`(2026)川01民初1号` is `（2026）川01民初1号`).
pub fn case_number(number: &str) -> String {
    number.replace('(', "（").replace(')', "）")
}

/// One asset a freeze result says is frozen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The asset.
    pub asset_key: String,
    /// Its index in the request.
    pub asset_index: i64,
    /// The ruling the freeze executes.
    pub ruling: String,
    /// How many earlier freezes held the asset when the result was checked (re-checked
    /// when it is committed).
    pub ahead: usize,
}

/// What a preservation result does to the register of frozen assets.
#[derive(Debug, Clone, Default)]
pub struct Holds {
    /// Assets it freezes.
    pub freeze: Vec<Hold>,
    /// Rulings whose holds it lifts.
    pub lift: Vec<String>,
}

/// The holds a result on `request` makes, and the queue positions it must report: for
/// each frozen asset, `holders` gives the earlier freezes still holding it.
pub fn holds_of(request: &Value, result: &Value) -> Holds {
    let ruling = |d: &Value, f: &str| d.get(f).and_then(Value::as_str).map(case_number);
    let mut holds = Holds::default();
    match result.get("status").and_then(Value::as_str) {
        Some("lifted") => holds
            .lift
            .extend(ruling(request, "originalRuling").or_else(|| ruling(request, "rulingNumber"))),
        Some("frozen" | "partially_frozen") => {
            let Some(r) = ruling(request, "rulingNumber") else {
                return holds;
            };
            for a in result
                .get("assets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let frozen = matches!(
                    a.get("outcome").and_then(Value::as_str),
                    Some("frozen" | "partially_frozen")
                );
                let index = a.get("assetIndex").and_then(Value::as_i64).unwrap_or(-1);
                let key = request["assets"]
                    .get(usize::try_from(index).unwrap_or(usize::MAX))
                    .and_then(asset_key);
                if let (true, Some(asset_key)) = (frozen, key) {
                    holds.freeze.push(Hold {
                        asset_key,
                        asset_index: index,
                        ruling: r.clone(),
                        ahead: 0,
                    });
                }
            }
        }
        _ => {}
    }
    holds
}

/// Checks the queue position `result` reports for each frozen asset against the earlier
/// freezes still holding it (`hold.ahead` of them, the first of which is `first`).
pub fn check_positions(
    result: &Value,
    ahead: &[(Hold, Option<(MessageId, String)>)],
) -> Result<(), Problem> {
    for (hold, first) in ahead {
        let count = &hold.ahead;
        let asset = result["assets"].as_array().and_then(|all| {
            all.iter()
                .find(|a| a["assetIndex"].as_i64() == Some(hold.asset_index))
        });
        let Some(asset) = asset else { continue };
        let (position, rank) = (asset["queuePosition"].as_str(), asset["queueRank"].as_u64());
        let expected_rank = *count as u64;
        let ok = match count {
            0 => position == Some("first"),
            _ => position == Some("waiting") && rank == Some(expected_rank),
        };
        if ok {
            continue;
        }
        let detail = match first {
            Some((request, ruling)) => format!(
                "asset {} is already frozen under ruling {ruling} (request {request}){}: this freeze queues behind {} (轮候); report queuePosition waiting, queueRank {expected_rank}",
                hold.asset_index,
                if *count > 1 {
                    format!(" and {} more", count - 1)
                } else {
                    String::new()
                },
                if *count > 1 { "them" } else { "it" },
            ),
            None => format!(
                "asset {} is frozen by no earlier order this gateway knows: report queuePosition first",
                hold.asset_index
            ),
        };
        return Err(Problem::new(Code::QueuePositionMismatch, detail));
    }
    Ok(())
}

#[cfg(test)]
mod key_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn vehicles_and_securities_are_known_by_their_register_numbers() {
        let car = json!({"type": "vehicle", "plateNumber": "川A7K29Q", "vin": "LZZ5CLSB4MA123456"});
        assert_eq!(asset_key(&car).unwrap(), "vehicle:LZZ5CLSB4MA123456");
        let shares = json!({"type": "securities", "securitiesFirm": "西南证券", "securitiesAccount": "A123456789"});
        assert_eq!(
            asset_key(&shares).unwrap(),
            "securities:西南证券:A123456789"
        );
    }

    #[test]
    fn a_ruling_number_with_ascii_brackets_is_the_same_ruling() {
        assert_eq!(
            case_number("(2026)川01民初1045号"),
            "（2026）川01民初1045号"
        );
        let request = json!({"rulingNumber": "(2026)川01民初1045号", "assets": [{"type": "equity", "companyCode": "91500112MA60K7PR3A"}]});
        let result =
            json!({"status": "frozen", "assets": [{"assetIndex": 0, "outcome": "frozen"}]});
        let holds = holds_of(&request, &result);
        assert_eq!(holds.freeze[0].ruling, "（2026）川01民初1045号");
        let lift = json!({"originalRuling": "（2026）川01民初1045号"});
        let holds = holds_of(&lift, &json!({"status": "lifted"}));
        assert_eq!(holds.lift, ["（2026）川01民初1045号"]);
    }
}
