//! How a message's envelope is stored: its JSON text (exactly as signed, signature
//! included), compressed, in `messages.envelope_z`.
//!
//! The stored bytes are one format byte, then the body. Format 1 is raw DEFLATE
//! (RFC 1951) of the UTF-8 JSON text. A row stored before the column existed keeps its
//! text in `messages.envelope` and has no `envelope_z`; a purged message has neither
//! (`envelope` is `'null'`). Nothing outside the store sees the compressed form: every
//! read gives back the same text that went in, byte for byte, so digests and signatures
//! are checked against exactly what was signed.
//!
//! Why: an envelope of a typical service request is about 2.7 KB of JSON, so two never
//! fitted in one 4 KB SQLite page and each took a page of its own. Compressed it is about
//! 1.6 KB, two to a page.

use std::io::{Read as _, Write as _};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::store::StoreError;

/// The format byte of raw DEFLATE.
const DEFLATE: u8 = 1;

/// The stored form of envelope JSON `text`.
pub(super) fn pack(text: &str) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(text.len() / 2 + 16);
    out.push(DEFLATE);
    let mut encoder = DeflateEncoder::new(out, Compression::fast());
    encoder
        .write_all(text.as_bytes())
        .and_then(|()| encoder.finish())
        .map_err(|e| StoreError::Backend(format!("compressing an envelope: {e}")))
}

/// The envelope JSON text that [`pack`] made `bytes` from.
pub(super) fn unpack(bytes: &[u8]) -> Result<String, StoreError> {
    let unreadable =
        |why: String| StoreError::Backend(format!("stored envelope is unreadable: {why}"));
    match bytes.split_first() {
        Some((&DEFLATE, body)) => {
            let mut text = String::with_capacity(body.len() * 2);
            DeflateDecoder::new(body)
                .read_to_string(&mut text)
                .map_err(|e| unreadable(e.to_string()))?;
            Ok(text)
        }
        Some((format, _)) => Err(unreadable(format!("unknown format {format}"))),
        None => Err(unreadable("no bytes".into())),
    }
}

/// The envelope text of a row that has the `envelope` and `envelope_z` columns of
/// `messages` (`None` if `envelope` is NULL, as for an inbox item without its message).
pub(super) fn envelope_of(row: &AnyRow) -> Result<Option<String>, StoreError> {
    match row.try_get::<Option<Vec<u8>>, _>("envelope_z")? {
        Some(bytes) => unpack(&bytes).map(Some),
        None => Ok(row.try_get::<Option<String>, _>("envelope")?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpack_gives_back_the_text_byte_for_byte() {
        let text = r#"{"payload":{"case":{"number":"（2026）川0104民初5678号"}},"pad":"aaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#;
        let packed = pack(text).unwrap();
        assert_eq!(packed[0], DEFLATE);
        assert!(
            packed.len() < text.len(),
            "{} bytes packed from {}",
            packed.len(),
            text.len()
        );
        assert_eq!(unpack(&packed).unwrap(), text);
    }

    #[test]
    fn unknown_format_or_damaged_bytes_are_an_error_not_a_panic() {
        assert!(unpack(&[]).is_err());
        assert!(unpack(&[9, 1, 2, 3]).is_err());
        let mut packed = pack(r#"{"a":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}"#).unwrap();
        packed.truncate(packed.len() / 2);
        assert!(unpack(&packed).is_err());
    }
}
