//! Cross-region case filing (跨域立案): the competent court's answer numbers the case in
//! its own name. A docketed filing's new case number, and the number of a ruling not to
//! accept one, must carry the court code of the court that sends the answer (`川0104` for
//! `SC0104`): a schema checks the shape of a case number, the gateway checks whose it is.

use serde_json::Value;

use crate::envelope::Envelope;
use crate::ids::CourtId;
use crate::problem::Problem;
use crate::schema::Violation;

/// Region codes (ISO 3166-2:CN) and the one-character abbreviations case numbers use.
const PROVINCES: &[(&str, char)] = &[
    ("BJ", '京'),
    ("TJ", '津'),
    ("HE", '冀'),
    ("SX", '晋'),
    ("NM", '内'),
    ("LN", '辽'),
    ("JL", '吉'),
    ("HL", '黑'),
    ("SH", '沪'),
    ("JS", '苏'),
    ("ZJ", '浙'),
    ("AH", '皖'),
    ("FJ", '闽'),
    ("JX", '赣'),
    ("SD", '鲁'),
    ("HA", '豫'),
    ("HB", '鄂'),
    ("HN", '湘'),
    ("GD", '粤'),
    ("GX", '桂'),
    ("HI", '琼'),
    ("CQ", '渝'),
    ("SC", '川'),
    ("GZ", '黔'),
    ("YN", '云'),
    ("XZ", '藏'),
    ("SN", '陕'),
    ("GS", '甘'),
    ("QH", '青'),
    ("NX", '宁'),
    ("XJ", '新'),
];

/// The court code case numbers give `court`: the province's abbreviation, and its digits
/// unless it is the high court (`SC00` is `川`, `SC0104` is `川0104`). `None` for a
/// region without an abbreviation.
pub fn case_number_court(court: &CourtId) -> Option<String> {
    let region = court.region();
    let (_, abbreviation) = PROVINCES.iter().find(|(r, _)| *r == region.as_str())?;
    let digits = &court.as_str()[2..];
    Some(if digits == "00" {
        abbreviation.to_string()
    } else {
        format!("{abbreviation}{digits}")
    })
}

/// The court code written in `number` after its year, e.g. `川0104` in
/// `（2026）川0104民初8421号`.
fn court_of(number: &str) -> Option<&str> {
    let rest = number
        .split_once('）')
        .or_else(|| number.split_once(')'))?
        .1;
    let mut chars = rest.char_indices();
    let (_, first) = chars.next()?;
    if first == '最' {
        return rest.get(..("最高法".len())).filter(|c| *c == "最高法");
    }
    let end = chars
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(rest.len(), |(i, _)| i);
    Some(&rest[..end])
}

/// A docketed filing's case number and a ruling's number are the sending court's own.
pub fn check_numbers(e: &Envelope) -> Result<(), Problem> {
    if e.kind.as_str() != "filing.result" {
        return Ok(());
    }
    let Some(own) = case_number_court(&e.sender.court) else {
        return Ok(());
    };
    let at = |pointer: &'static str| {
        e.payload
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(|n| (pointer, n))
    };
    let numbers = [at("/caseNumber"), at("/ruling/number")];
    let errors: Vec<Violation> = numbers
        .into_iter()
        .flatten()
        .filter(|(_, n)| court_of(n) != Some(own.as_str()))
        .map(|(pointer, n)| Violation {
            pointer: pointer.to_owned(),
            keyword: "court".to_owned(),
            message: format!(
                "{n} is not a case number of court {} ({own}): the court that dockets or rules numbers the case in its own name, e.g. （2026）{own}民初1号",
                e.sender.court
            ),
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::schema_violation(&e.schema.to_string(), errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers_name_courts_by_abbreviation() {
        let court = |c: &str| case_number_court(&CourtId::parse(c).unwrap());
        assert_eq!(court("SC0104").as_deref(), Some("川0104"));
        assert_eq!(court("CQ01").as_deref(), Some("渝01"));
        assert_eq!(court("SC00").as_deref(), Some("川"));
        assert_eq!(court("ZZ01"), None);
        assert_eq!(court_of("（2026）川0104民初8421号"), Some("川0104"));
        assert_eq!(court_of("(2026)渝01民初1号之一"), Some("渝01"));
        assert_eq!(court_of("（2026）川民终3号"), Some("川"));
        assert_eq!(court_of("（2026）最高法民申1号"), Some("最高法"));
        assert_eq!(court_of("no bracket"), None);
    }
}
