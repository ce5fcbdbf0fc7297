//! Tests of the canonical form: RFC 8785's examples, lengths, and the reference crate
//! (`serde_json_canonicalizer`) as the oracle of [`super::canonical_value`].

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

/// `serde_json_canonicalizer`'s form of `value`: the reference.
fn reference(value: &serde_json::Value) -> String {
    String::from_utf8(serde_json_canonicalizer::to_vec(value).unwrap()).unwrap()
}

/// Both forms of `value`, as text (RFC 8785 output is UTF-8).
fn both(value: &serde_json::Value) -> (String, String) {
    let ours = String::from_utf8(canonical_value(value).unwrap()).unwrap();
    (ours, reference(value))
}

#[test]
fn every_json_file_of_the_repository_canonicalises_as_the_reference_crate_does() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![
        root.join("schemas"),
        root.join("agreements"),
        root.join("docs"),
    ];
    let mut compared = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Some invalid fixtures are not JSON at all: nothing to canonicalise.
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                let (ours, reference) = both(&value);
                assert_eq!(ours, reference, "{}", path.display());
                compared += 1;
            }
        }
    }
    // The schemas' fixtures alone are over 500 files: a walk that found few is broken.
    assert!(compared > 400, "only {compared} JSON files compared");
}

/// A small deterministic generator (SplitMix64): the same values on every run.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A string of up to 6 characters chosen to stress escaping and UTF-16 order:
    /// controls, quote, backslash, solidus, DEL, U+2028, the last BMP characters above
    /// the surrogates (which sort after astral characters in UTF-16, before them by code
    /// point), astral characters, CJK.
    fn string(&mut self) -> String {
        const CHARS: &[char] = &[
            'a',
            'b',
            'B',
            '1',
            ' ',
            '"',
            '\\',
            '/',
            '\u{0}',
            '\u{8}',
            '\t',
            '\n',
            '\u{b}',
            '\u{c}',
            '\r',
            '\u{1f}',
            '\u{7f}',
            '\u{80}',
            'é',
            'ö',
            '€',
            '\u{2028}',
            '川',
            '\u{e000}',
            '\u{fb33}',
            '\u{ffff}',
            '😀',
            '\u{10000}',
            '\u{10ffff}',
        ];
        (0..self.below(7))
            .map(|_| CHARS[self.below(CHARS.len())])
            .collect()
    }

    fn number(&mut self) -> serde_json::Value {
        use serde_json::json;
        match self.below(8) {
            0 => json!(self.next()),
            1 => json!(self.next() as i64),
            2 => json!(self.below(2_000) as i64 - 1_000),
            3 => json!(f64::from_bits(self.next()))
                .as_f64()
                .map_or(json!(0.5), |f| json!(f)),
            4 => json!((self.below(1_000_000) as f64 - 500_000.0) / 1_000.0),
            5 => json!(10f64.powi(self.below(60) as i32 - 30)),
            6 => {
                json!([0.0, -0.0, 1e21, 1e-7, 9007199254740993.0, 5e-324, f64::MAX][self.below(7)])
            }
            _ => json!([u64::MAX, 1 << 53, (1 << 53) + 1, 0][self.below(4)]),
        }
    }

    fn value(&mut self, depth: usize) -> serde_json::Value {
        use serde_json::Value;
        let pick = if depth == 0 {
            self.below(4)
        } else {
            self.below(6)
        };
        match pick {
            0 => [Value::Null, Value::Bool(true), Value::Bool(false)][self.below(3)].clone(),
            1 => self.number(),
            2 | 3 => Value::String(self.string()),
            4 => Value::Array((0..self.below(5)).map(|_| self.value(depth - 1)).collect()),
            _ => Value::Object(
                (0..self.below(7))
                    .map(|_| (self.string(), self.value(depth - 1)))
                    .collect(),
            ),
        }
    }
}

#[test]
fn generated_values_canonicalise_as_the_reference_crate_does() {
    let mut generator = Gen(8785);
    for _ in 0..20_000 {
        let value = generator.value(4);
        let (ours, reference) = both(&value);
        assert_eq!(ours, reference, "{value:?}");
        assert_eq!(canonical_len(&value).unwrap(), ours.len() as u64);
    }
}

#[test]
fn keys_sort_by_utf16_code_units_not_by_code_points() {
    // U+E000 is above the surrogates: after 😀 (D83D DE00) in UTF-16, before it by code
    // point, which is the order a byte-wise (UTF-8) sort would give.
    let value = json!({"\u{e000}": 1, "😀": 2, "a": 3});
    assert_eq!(
        String::from_utf8(canonical_value(&value).unwrap()).unwrap(),
        "{\"a\":3,\"😀\":2,\"\u{e000}\":1}"
    );
}

#[test]
fn a_serialisable_type_canonicalises_as_its_json_value_does() {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Fields {
        message_id: &'static str,
        hop: Hop,
        count: u64,
        offset: i64,
        missing: Option<String>,
        tags: Vec<&'static str>,
        nested: std::collections::BTreeMap<&'static str, i32>,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "lowercase")]
    enum Hop {
        Relay,
    }
    let fields = Fields {
        message_id: "0192f5e0-0000-7000-8000-000000000000",
        hop: Hop::Relay,
        count: u64::MAX,
        offset: -3,
        missing: None,
        tags: vec!["川", "\n"],
        nested: [("z", 1), ("a", 2)].into_iter().collect(),
    };
    let reference = serde_json_canonicalizer::to_vec(&fields).unwrap();
    assert_eq!(canonical(&fields).unwrap(), reference);
    assert_eq!(
        canonical_digest(&fields).unwrap(),
        Sha256::digest(&reference)
    );
}
