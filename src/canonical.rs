//! RFC 8785 (JCS) canonical JSON: the bytes every signature and digest of kuayu covers
//! (docs/SIGNATURES.md), and the size limits count.

use serde::Serialize;
use serde_json::Value;

use crate::ids::Sha256;

/// RFC 8785 canonical JSON of `value`: sorted keys, no white space, ES6 numbers.
pub fn canonical<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json_canonicalizer::to_vec(value)
}

/// The length in bytes of the canonical form of `value`, without keeping it.
pub fn canonical_len<T: Serialize>(value: &T) -> Result<u64, serde_json::Error> {
    /// Counts what is written and keeps none of it.
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json_canonicalizer::to_writer(value, &mut count)?;
    Ok(count.0)
}

/// A number of bytes the canonical form of `value` never exceeds, found without making
/// it (no allocation): each character of a string or key counts 6 (RFC 8785 writes a
/// character as its UTF-8 bytes, at most 4, or as an escape of 2 or 6), each number 25
/// (the longest ECMAScript form of a double, `-1.7976931348623157e+308`, has 24), and
/// the punctuation as written. So a value whose bound is within a limit is within it;
/// only one whose bound is not needs [`canonical_len`].
pub fn canonical_len_bound(value: &Value) -> u64 {
    let string = |s: &str| 2 + 6 * s.chars().count() as u64;
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 25,
        Value::String(s) => string(s),
        Value::Array(items) => {
            2 + items.len() as u64 + items.iter().map(canonical_len_bound).sum::<u64>()
        }
        Value::Object(members) => {
            2 + members
                .iter()
                .map(|(k, v)| string(k) + 2 + canonical_len_bound(v))
                .sum::<u64>()
        }
    }
}

/// The SHA-256 of the canonical form of `value`.
pub fn canonical_digest<T: Serialize>(value: &T) -> Result<Sha256, serde_json::Error> {
    Ok(Sha256::digest(&canonical(value)?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// RFC 8785 section 3.2.2 and 3.2.3: key order by UTF-16 code units, ES6 numbers.
    #[test]
    fn canonical_form_follows_rfc_8785() {
        let input: serde_json::Value = serde_json::from_str(
            r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],
                "string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
                "literals":[null,true,false]}"#,
        )
        .unwrap();
        let expected = r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
        assert_eq!(
            String::from_utf8(canonical(&input).unwrap()).unwrap(),
            expected
        );

        let sorting: serde_json::Value = serde_json::from_str(
            r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
        )
        .unwrap();
        let raw = String::from_utf8(canonical(&sorting).unwrap()).unwrap();
        let positions: Vec<usize> = [
            "Carriage Return",
            "One",
            "Control",
            "Latin Small Letter O",
            "Euro Sign",
            "Emoji",
            "Hebrew Letter",
        ]
        .iter()
        .map(|name| raw.find(name).unwrap())
        .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{raw}");
    }

    #[test]
    fn the_canonical_length_is_that_of_the_canonical_form() {
        let value = json!({"b": [1.50, "川0104\n"], "a": {"z": null, "y": 1e3}});
        let bytes = canonical(&value).unwrap();
        assert_eq!(canonical_len(&value).unwrap(), bytes.len() as u64);
    }

    #[test]
    fn the_canonical_length_never_exceeds_its_bound() {
        let values = [
            json!(null),
            json!(false),
            json!(-1.7976931348623157e308),
            json!(-0.0000012345678901234567),
            json!(-123456789012345680000.0),
            json!(u64::MAX),
            json!(i64::MIN),
            json!("\u{1}\u{1f}\"\\\n川😀"),
            json!([]),
            json!({}),
            json!([[], {}, [null, true], {"\u{2}": "\u{3}"}]),
            json!({"b": [1.50, "川0104\n"], "a": {"z": null, "y": 1e300}}),
        ];
        for value in values {
            let exact = canonical_len(&value).unwrap();
            assert!(canonical_len_bound(&value) >= exact, "{value}: {exact}");
        }
        // Tight enough to spare the canonical form of an ordinary payload.
        let payload = json!({"case": {"number": "(2024)川0104民初1234号", "parties": [1, 2]}});
        assert!(canonical_len_bound(&payload) < 8 * canonical_len(&payload).unwrap());
    }
}
