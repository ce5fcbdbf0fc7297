//! Structure-aware mutation of JSON documents: the fuzzer's bytes choose which nodes of a
//! real document to change and how (replace, delete, insert, copy, retype, edit text or
//! numbers), so most cases stay close enough to valid to reach the deep checks.

use serde_json::{Map, Number, Value};

use super::input::Input;
use super::world::Dict;

/// Strings worth trying anywhere: edges of the time range, odd offsets, ids, kinds,
/// words the code branches on, and text that is hard to handle.
pub const STRINGS: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "\u{202e}",
    "川0104",
    "9999-12-31",
    "0000-01-01",
    "-0001-01-01",
    "2026-02-29",
    "2028-02-29",
    "2026-10-01",
    "2026-10-10",
    "2026-12-31",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999999Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T20:00:00+08:00",
    "0000-01-01T00:00:00Z",
    "0000-01-01T00:00:00+23:59",
    "0000-01-01T03:00:00+08:00",
    "1970-01-01T00:00:00Z",
    "2026-11-25T08:00:00Z",
    "2026-11-25T08:00:00.123456789+08:00",
    "2026-11-25T08:00:00+14:00",
    "2026-11-25T08:00:00-12:00",
    "2026-11-25 08:00:00Z",
    "SC",
    "CQ",
    "XX",
    "SC0104",
    "CQ0103",
    "SC01",
    "CQ01",
    "SC00",
    "CQ00",
    "SC-CQ-2026",
    "service.request",
    "service.result",
    "evidence.request",
    "preservation.request",
    "preservation.result",
    "printing.request",
    "lift",
    "freeze",
    "URGENT",
    "NORMAL",
    "bank_deposit",
    "real_estate",
    "movable",
    "other_right",
    "equity",
    "frozen",
    "partially_frozen",
    "lifted",
    "waiting",
    "first",
    "delay_notice",
    "result",
    "completion",
    "acknowledgement",
    "received",
    "postal",
    "failed",
    "returned",
    "site_inspection",
    "normal",
    "high",
    "0190c2a4-6f1e-7d2a-8b3c-4d5e6f708192",
    "permit(principal, action, resource);",
    "forbid(principal, action, resource) when { context.amount > 0 };",
    "https://",
    "http://gw.example",
];

/// The longest text (and, roughly, array) an edit makes: twice the largest payload the
/// sample agreement allows.
const MAX_TEXT: usize = 512 * 1024;

/// Applies one to four edits chosen by `input` to `doc`.
pub fn mutate(doc: &mut Value, input: &mut Input, dict: &Dict) {
    let edits = 1 + input.below(4);
    for _ in 0..edits {
        let paths = paths(doc);
        let path = input.pick(&paths).clone();
        edit(doc, &path, input, dict);
    }
}

/// One step from a node to a child.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node of `doc`, by the steps that reach it (the root first).
fn paths(doc: &Value) -> Vec<Vec<Step>> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), doc)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let mut p = path.clone();
                    p.push(Step::Key(k.clone()));
                    stack.push((p, child));
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(Step::Index(i));
                    stack.push((p, child));
                }
            }
            _ => {}
        }
        out.push(path);
    }
    out
}

fn node<'v>(doc: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let mut v = doc;
    for step in path {
        v = match step {
            Step::Key(k) => v.as_object_mut()?.get_mut(k)?,
            Step::Index(i) => v.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(v)
}

fn edit(doc: &mut Value, path: &[Step], input: &mut Input, dict: &Dict) {
    let op = input.byte() % 12;
    // Copy another node of the document over this one.
    if op == 6 {
        let paths = paths(doc);
        let from = input.pick(&paths).clone();
        if let Some(copy) = node(doc, &from).map(|v| v.clone())
            && copy.to_string().len() <= MAX_TEXT
            && let Some(target) = node(doc, path)
        {
            *target = copy;
        }
        return;
    }
    // Remove this node from its parent.
    if op == 2 {
        if let Some((last, parent)) = path.split_last()
            && let Some(parent) = node(doc, parent)
        {
            match (parent, last) {
                (Value::Object(m), Step::Key(k)) => {
                    m.remove(k);
                }
                (Value::Array(a), Step::Index(i)) if *i < a.len() => {
                    a.remove(*i);
                }
                _ => {}
            }
        }
        return;
    }
    let Some(target) = node(doc, path) else {
        return;
    };
    match op {
        0 | 1 => *target = value(input, dict, 0),
        3 | 4 => match target {
            Value::String(s) => tweak_text(s, input, dict),
            Value::Number(n) => *target = tweak_number(n, input),
            other => *other = value(input, dict, 0),
        },
        5 => match target {
            Value::Object(m) => {
                let key = key(input, dict);
                m.insert(key, value(input, dict, 1));
            }
            Value::Array(a) => {
                let at = input.below(a.len() + 1);
                let v = if !a.is_empty() && input.bool() {
                    a[input.below(a.len())].clone()
                } else {
                    value(input, dict, 1)
                };
                a.insert(at, v);
            }
            other => *other = value(input, dict, 0),
        },
        7 => {
            // Repeat an array's element many times (attachment and item counts).
            if let Value::Array(a) = target
                && let Some(first) = a.first().cloned()
            {
                let n = input.below(40);
                if first.to_string().len() * (a.len() + n) <= MAX_TEXT {
                    a.extend(std::iter::repeat_n(first, n));
                }
            }
        }
        8 => *target = Value::String(input.pick(&dict.strings).clone()),
        9 => {
            let inner = target.take();
            *target = match input.byte() % 3 {
                0 => Value::Array(vec![inner]),
                1 => Value::Object(Map::from_iter([(key(input, dict), inner)])),
                _ => match inner {
                    Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
                    Value::Object(m) => m.into_iter().next().map(|(_, v)| v).unwrap_or(Value::Null),
                    other => Value::String(other.to_string()),
                },
            };
        }
        10 => {
            // Rename a member.
            if let Value::Object(m) = target
                && !m.is_empty()
            {
                let i = input.below(m.len());
                if let Some(old) = m.keys().nth(i).cloned()
                    && let Some(v) = m.remove(&old)
                {
                    m.insert(key(input, dict), v);
                }
            }
        }
        _ => {
            // Swap the types of text and numbers: "12" for 12 and back.
            *target = match target.take() {
                Value::String(s) => s
                    .parse::<Number>()
                    .map(Value::Number)
                    .unwrap_or(Value::String(s)),
                Value::Number(n) => Value::String(n.to_string()),
                Value::Bool(b) => Value::String(b.to_string()),
                other => other,
            }
        }
    }
}

fn key(input: &mut Input, dict: &Dict) -> String {
    match input.byte() % 4 {
        0 => input.text(12),
        1 => input.pick(&dict.strings).clone(),
        _ => input.pick(&dict.keys).clone(),
    }
}

/// A new value: mostly small, sometimes nested, sometimes extreme.
pub fn value(input: &mut Input, dict: &Dict, depth: usize) -> Value {
    match input.byte() % 14 {
        0 => Value::Null,
        1 => Value::Bool(input.bool()),
        2 => Value::from(i64::from(input.byte()) - 128),
        3 => extreme_number(input),
        4 => Number::from_f64(f64::from(input.u32()) / 7.0).map_or(Value::Null, Value::Number),
        5..=7 => Value::String(input.pick(&dict.strings).clone()),
        8 => Value::String(input.text(32)),
        9 => Value::String("x".repeat(input.count() as usize % MAX_TEXT)),
        10 if depth < 3 => {
            let n = input.below(4);
            Value::Array((0..n).map(|_| value(input, dict, depth + 1)).collect())
        }
        11 if depth < 3 => {
            let n = input.below(4);
            Value::Object(
                (0..n)
                    .map(|_| (key(input, dict), value(input, dict, depth + 1)))
                    .collect(),
            )
        }
        12 => Value::Array(vec![]),
        _ => Value::Object(Map::new()),
    }
}

fn extreme_number(input: &mut Input) -> Value {
    match input.byte() % 12 {
        0 => Value::from(i64::MIN),
        1 => Value::from(i64::MAX),
        2 => Value::from(u64::MAX),
        3 => Value::from(u64::from(u32::MAX)),
        4 => Value::from(i64::from(u32::MAX) + 1),
        5 => Value::from(9_007_199_254_740_993_u64),
        6 => Value::from(-1),
        7 => Value::from(0),
        8 => Number::from_f64(f64::MAX).map_or(Value::Null, Value::Number),
        9 => Number::from_f64(-0.0).map_or(Value::Null, Value::Number),
        10 => Number::from_f64(1e-308).map_or(Value::Null, Value::Number),
        _ => Value::from(input.i64()),
    }
}

fn tweak_number(n: &Number, input: &mut Input) -> Value {
    if let Some(i) = n.as_i64() {
        let delta = i64::from(input.byte()) - 128;
        return match input.byte() % 5 {
            0 => Value::from(i.wrapping_add(delta)),
            1 => Value::from(i.wrapping_neg()),
            2 => Value::from(i.wrapping_mul(1000)),
            3 => Number::from_f64(i as f64 + 0.5).map_or(Value::Null, Value::Number),
            _ => extreme_number(input),
        };
    }
    match input.byte() % 3 {
        0 => Value::from(n.as_f64().unwrap_or(0.0).floor() as i64),
        1 => Number::from_f64(-n.as_f64().unwrap_or(0.0)).map_or(Value::Null, Value::Number),
        _ => extreme_number(input),
    }
}

fn tweak_text(s: &mut String, input: &mut Input, dict: &Dict) {
    let boundary = |s: &str, input: &mut Input| {
        let points: Vec<usize> = (0..=s.len()).filter(|i| s.is_char_boundary(*i)).collect();
        *input.pick(&points)
    };
    match input.byte() % 8 {
        0 => {
            let at = boundary(s, input);
            s.truncate(at);
        }
        1 => s.push_str(&input.text(16)),
        2 => {
            let at = boundary(s, input);
            s.insert_str(at, &input.text(8));
        }
        3 => {
            // Change one digit: dates, times, amounts and counts move.
            let digits: Vec<usize> = s
                .bytes()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            if !digits.is_empty() {
                let at = *input.pick(&digits);
                let d = char::from(b'0' + input.byte() % 10);
                s.replace_range(at..=at, d.encode_utf8(&mut [0; 4]));
            }
        }
        4 => {
            // Longer than the largest payload an agreement allows, but no longer: the
            // edits compound.
            let times = (1 + input.below(64)).min(MAX_TEXT / s.len().max(1));
            *s = s.repeat(times.max(1));
        }
        5 => *s = s.to_uppercase(),
        6 => {
            // Splice another string into this one.
            let other = input.pick(&dict.strings).clone();
            let at = boundary(s, input);
            s.truncate(at);
            let from = boundary(&other, input);
            s.push_str(&other[from..]);
        }
        _ => *s = input.pick(&dict.strings).clone(),
    }
}
