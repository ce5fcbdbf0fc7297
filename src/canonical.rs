//! RFC 8785 (JCS) canonical JSON: the bytes every signature and digest of kuayu covers
//! (docs/SIGNATURES.md), and the size limits count.
//!
//! [`canonical_value`] writes a `serde_json::Value` directly: it sorts each object's
//! members by their keys' UTF-16 code units (RFC 8785 section 3.2.3) and writes the
//! punctuation, and leaves each scalar to a crate: strings to `serde_json` (its compact
//! escaping is exactly RFC 8785 section 3.2.2.2's: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
//! `\t`, other controls as `\u00xx` in lower-case hex, everything else as its UTF-8),
//! numbers to `serde_json_canonicalizer` (ECMAScript's number to string, section
//! 3.2.2.3). Why not that crate for the whole value: it buffers every member of every
//! object in a `Vec` of its own, boxes a writer at each write, and parses each key again
//! to sort it, so it took about 40 µs for a 2.6 KB envelope where this takes about 6
//! (about 7% of the gateway's CPU in the federation benchmark). The crate stays the
//! reference: the tests compare both byte for byte on every example and fixture in the
//! repository and on thousands of generated values.

use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use crate::ids::Sha256;

/// RFC 8785 canonical JSON of `value`: sorted keys, no white space, ES6 numbers.
pub fn canonical_value(value: &Value) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(256);
    write(value, &mut out)?;
    Ok(out)
}

/// RFC 8785 canonical JSON of `value` as `serde_json` serialises it (a value that is a
/// `serde_json::Value` already is better given to [`canonical_value`], which does not copy
/// it). Through `serde_json::to_value`: a float that is not finite would become `null`
/// (RFC 8785 has no form for it); nothing kuayu signs or digests holds a float.
pub fn canonical<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    canonical_value(&serde_json::to_value(value)?)
}

/// The length in bytes of the canonical form of `value`, without keeping it.
pub fn canonical_len(value: &Value) -> Result<u64, serde_json::Error> {
    /// Counts what is written and keeps none of it.
    struct Count(u64);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    write(value, &mut count)?;
    Ok(count.0)
}

/// One member's value of an object written by [`canonical_members`].
#[derive(Clone, Copy)]
pub enum Member<'a> {
    /// A string.
    Str(&'a str),
    /// An integer (written as RFC 8785 writes the number, like [`Value::Number`]).
    Int(i64),
    /// Any JSON value, written in its canonical form.
    Value(&'a Value),
}

/// RFC 8785 canonical JSON of the object with `members`, which must be given in the
/// canonical order (keys sorted by their UTF-16 code units), without first building a
/// `Value` of it: the same bytes as [`canonical_value`] of that object.
pub fn canonical_members(members: &[(&str, Member<'_>)]) -> Result<Vec<u8>, serde_json::Error> {
    debug_assert!(
        members
            .windows(2)
            .all(|w| w[0].0.encode_utf16().lt(w[1].0.encode_utf16())),
        "members in canonical order"
    );
    let mut out = Vec::with_capacity(256);
    object(members.iter().copied(), &mut out)?;
    Ok(out)
}

/// Writes the object of `members`, given in canonical order, to `out`.
fn object<'a, W: Write>(
    members: impl Iterator<Item = (&'a str, Member<'a>)>,
    out: &mut W,
) -> Result<(), serde_json::Error> {
    punctuation(out, b"{")?;
    for (i, (key, member)) in members.enumerate() {
        if i > 0 {
            punctuation(out, b",")?;
        }
        serde_json::to_writer(&mut *out, key)?;
        punctuation(out, b":")?;
        match member {
            Member::Str(s) => serde_json::to_writer(&mut *out, s)?,
            Member::Int(n) => {
                serde_json_canonicalizer::to_writer(&serde_json::Number::from(n), &mut *out)?
            }
            Member::Value(v) => write(v, out)?,
        }
    }
    punctuation(out, b"}")
}

/// Writes literal `bytes` (punctuation, `null`, `true`, `false`) to `out`.
fn punctuation<W: Write>(out: &mut W, bytes: &[u8]) -> Result<(), serde_json::Error> {
    out.write_all(bytes).map_err(serde_json::Error::io)
}

/// Writes the canonical form of `value` to `out`.
fn write<W: Write>(value: &Value, out: &mut W) -> Result<(), serde_json::Error> {
    match value {
        Value::Null => punctuation(out, b"null"),
        Value::Bool(true) => punctuation(out, b"true"),
        Value::Bool(false) => punctuation(out, b"false"),
        Value::Number(n) => serde_json_canonicalizer::to_writer(n, out),
        Value::String(s) => serde_json::to_writer(out, s),
        Value::Array(items) => {
            punctuation(out, b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    punctuation(out, b",")?;
                }
                write(item, out)?;
            }
            punctuation(out, b"]")
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_unstable_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            object(
                sorted
                    .into_iter()
                    .map(|(k, v)| (k.as_str(), Member::Value(v))),
                out,
            )
        }
    }
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
mod tests;
