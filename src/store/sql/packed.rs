//! How a message's envelope is stored: its JSON text (exactly as signed, signature
//! included), compressed, in `messages.envelope_z`.
//!
//! The stored bytes are one format byte, then the body:
//! - Format 3 (written now): raw DEFLATE (RFC 1951) of the UTF-8 JSON text, with a
//!   preset dictionary as zlib's `deflateSetDictionary` takes it (the compressed text may
//!   refer back into the dictionary's bytes as if they came just before it): the bytes
//!   of `envelope.dict` (next to this file), then the message's id as text
//!   (`messages.id`, 36 ASCII bytes), which the envelope's `id` member repeats. So the
//!   id is stored once, in its column; reading a row needs that column.
//! - Format 2: the same with `envelope.dict` alone.
//! - Format 1: raw DEFLATE of the text, no dictionary.
//!
//! `envelope.dict` is the vocabulary of the schemas (property names, enumerated values,
//! the envelope's frame), made by `tools/envelope-dictionary.py` and pinned by its
//! SHA-256 (a test): formats 2 and 3 can only be read with exactly these bytes.
//!
//! A row stored before the column existed keeps its text in `messages.envelope` and has no `envelope_z`; a purged message has neither
//! (`envelope` is `'null'`). Nothing outside the store sees the compressed form: every
//! read gives back the same text that went in, byte for byte, so digests and signatures
//! are checked against exactly what was signed.
//!
//! Why: an envelope of a typical service request is about 2.7 KB of JSON, so two never
//! fitted in one 4 KB SQLite page and each took a page of its own. Compressed without a
//! dictionary it is about 1.6 KB; with it about 1.2 KB, three rows to a 4 KB page
//! (a new database's page size, see `SQLITE_WRITER_PRAGMAS`).

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::store::StoreError;

/// The format byte of raw DEFLATE without a dictionary (read only).
const DEFLATE: u8 = 1;

/// The format byte of raw DEFLATE with [`DICTIONARY`] (read only).
const DEFLATE_DICTIONARY: u8 = 2;

/// The format byte of raw DEFLATE with [`DICTIONARY`] then the message's id.
const DEFLATE_DICTIONARY_ID: u8 = 3;

/// The preset dictionary of format 2.
const DICTIONARY: &[u8] = include_bytes!("envelope.dict");

/// SHA-256 of [`DICTIONARY`], hex: the bytes format 2 was written with.
#[cfg(test)]
const DICTIONARY_SHA256: &str = "7f3d4bc89282d71bac3ab03e5a833af58c2e4bb5881f2f16288dcc5c8a63c3df";

/// The compression level: with the dictionary, level 4 packs a service request within
/// 1% of level 9 at about two thirds of its time (measured on this machine).
const LEVEL: u32 = 4;

thread_local! {
    // A DEFLATE state is about 300 KB of tables, zeroed when made: one per thread, reset
    // between uses, rather than one per envelope.
    static DEFLATER: RefCell<Compress> = RefCell::new(Compress::new(Compression::new(LEVEL), false));
    static INFLATER: RefCell<Decompress> = RefCell::new(Decompress::new(false));
    // [`DICTIONARY`] followed by a message id, the id's bytes replaced on each use.
    static WITH_ID: RefCell<Vec<u8>> = RefCell::new(DICTIONARY.to_vec());
}

/// Calls `f` with format 3's dictionary for message `id`.
fn with_id_dictionary<T>(id: &str, f: impl FnOnce(&[u8]) -> T) -> T {
    WITH_ID.with_borrow_mut(|dictionary| {
        dictionary.truncate(DICTIONARY.len());
        dictionary.extend_from_slice(id.as_bytes());
        f(dictionary)
    })
}

/// The stored form of envelope JSON `text` of message `id` (format 3).
pub(super) fn pack(text: &str, id: &str) -> Result<Vec<u8>, StoreError> {
    let failed = |e: String| StoreError::Backend(format!("compressing an envelope: {e}"));
    DEFLATER.with_borrow_mut(|deflater| {
        deflater.reset();
        with_id_dictionary(id, |dictionary| deflater.set_dictionary(dictionary))
            .map_err(|e| failed(e.to_string()))?;
        let mut out = Vec::with_capacity(text.len() / 2 + 64);
        out.push(DEFLATE_DICTIONARY_ID);
        loop {
            let read = deflater.total_in() as usize;
            let status = deflater
                .compress_vec(&text.as_bytes()[read..], &mut out, FlushCompress::Finish)
                .map_err(|e| failed(e.to_string()))?;
            match status {
                Status::StreamEnd => return Ok(out),
                Status::Ok | Status::BufError => out.reserve(out.capacity().max(64)),
            }
        }
    })
}

/// The envelope JSON text that [`pack`] made `bytes` from, for message `id` (its
/// `messages.id`).
pub(super) fn unpack(bytes: &[u8], id: &str) -> Result<String, StoreError> {
    let unreadable =
        |why: String| StoreError::Backend(format!("stored envelope is unreadable: {why}"));
    let (format, body) = bytes
        .split_first()
        .ok_or_else(|| unreadable("no bytes".into()))?;
    INFLATER.with_borrow_mut(|inflater| {
        inflater.reset(false);
        let set = match *format {
            DEFLATE_DICTIONARY_ID => {
                with_id_dictionary(id, |dictionary| inflater.set_dictionary(dictionary))
            }
            DEFLATE_DICTIONARY => inflater.set_dictionary(DICTIONARY),
            DEFLATE => Ok(0),
            other => return Err(unreadable(format!("unknown format {other}"))),
        };
        set.map_err(|e| unreadable(e.to_string()))?;
        let mut text = Vec::with_capacity(body.len() * 3);
        loop {
            let read = inflater.total_in() as usize;
            let before = (read, text.len());
            let status = inflater
                .decompress_vec(&body[read..], &mut text, FlushDecompress::None)
                .map_err(|e| unreadable(e.to_string()))?;
            match status {
                Status::StreamEnd => break,
                _ if text.len() < text.capacity()
                    && before == (inflater.total_in() as usize, text.len()) =>
                {
                    return Err(unreadable("the compressed bytes end too soon".into()));
                }
                _ => text.reserve(text.capacity().max(64)),
            }
        }
        String::from_utf8(text).map_err(|e| unreadable(e.to_string()))
    })
}

/// The envelope text of a row that has the `envelope` and `envelope_z` columns of
/// `messages`, and its `id` as `envelope_id` (`None` if `envelope` is NULL, as for an
/// inbox item without its message).
pub(super) fn envelope_of(row: &AnyRow) -> Result<Option<String>, StoreError> {
    match row.try_get::<Option<Vec<u8>>, _>("envelope_z")? {
        Some(bytes) => unpack(&bytes, &row.try_get::<String, _>("envelope_id")?).map(Some),
        None => Ok(row.try_get::<Option<String>, _>("envelope")?),
    }
}

/// The envelope text of message `id` in an [`Exec`](super::exec::Exec) row whose
/// columns `text` and `z` are its `messages.envelope` and `messages.envelope_z`, as
/// [`envelope_of`] reads it.
pub(super) fn envelope_in(
    row: &super::exec::Row,
    text: usize,
    z: usize,
    id: &str,
) -> Result<Option<String>, StoreError> {
    match row.optional_blob(z)? {
        Some(bytes) => unpack(bytes, id).map(Some),
        None => Ok(row.optional_text(text)?.map(str::to_owned)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01a23a29-81bf-76dd-a289-09ec7f860a2c";

    #[test]
    fn unpack_gives_back_the_text_byte_for_byte() {
        let text = r#"{"payload":{"case":{"number":"（2026）川0104民初5678号"}},"pad":"aaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#;
        let packed = pack(text, ID).unwrap();
        assert_eq!(packed[0], DEFLATE_DICTIONARY_ID);
        assert!(
            packed.len() < text.len(),
            "{} bytes packed from {}",
            packed.len(),
            text.len()
        );
        assert_eq!(unpack(&packed, ID).unwrap(), text);
    }

    #[test]
    fn texts_that_compress_far_or_hardly_at_all_come_back_whole() {
        // Far: the output outgrows every first guess; hardly: the packed form does.
        let repetitive = format!(r#"{{"pad":"{}"}}"#, "abc".repeat(100_000));
        let noisy: String = (0..20_000u32)
            .map(|i| char::from_u32(0x4e00 + (i.wrapping_mul(2_654_435_761) % 20_000)).unwrap())
            .collect();
        for text in [repetitive, noisy, String::new()] {
            assert_eq!(unpack(&pack(&text, ID).unwrap(), ID).unwrap(), text);
            // The thread's kept state is reset between uses.
            assert_eq!(unpack(&pack(&text, ID).unwrap(), ID).unwrap(), text);
        }
    }

    #[test]
    fn the_dictionary_is_the_one_format_2_was_written_with() {
        assert_eq!(
            crate::ids::Sha256::digest(DICTIONARY).to_string(),
            DICTIONARY_SHA256
        );
    }

    #[test]
    fn rows_packed_before_without_a_dictionary_still_read() {
        let text = r#"{"kind":"service.request","payload":{"note":"前一版本的行"}}"#;
        let mut old = Compress::new(Compression::fast(), false);
        let mut packed = Vec::with_capacity(256);
        packed.push(DEFLATE);
        old.compress_vec(text.as_bytes(), &mut packed, FlushCompress::Finish)
            .unwrap();
        assert_eq!(unpack(&packed, ID).unwrap(), text);
    }

    #[test]
    fn the_dictionary_makes_an_envelope_smaller_than_deflate_alone() {
        let text = r#"{"id":"01a23a29-81bf-76dd-a289-09ec7f860a2c","kind":"service.request","schema":{"id":"service-request","version":3},"agreement":{"id":"SC-CQ-2026","version":1,"sha256":"d5bf646200f0ad221aabc8c808f4e3d481463889fa4c11582f655fa58f6d3879"},"sender":{"region":"SC","court":"SC0104"},"recipient":{"region":"CQ","court":"CQ0103"},"createdAt":"2026-12-03T04:28:48.447Z","expiresAt":"2026-12-10T04:28:48.447Z","priority":"normal","payload":{"addressees":[{"name":"王建国","partyRole":"defendant","kind":"person","idType":"resident_id"}]}}"#;
        let mut plain = Compress::new(Compression::new(LEVEL), false);
        let mut without = Vec::with_capacity(text.len());
        plain
            .compress_vec(text.as_bytes(), &mut without, FlushCompress::Finish)
            .unwrap();
        let with = pack(text, ID).unwrap();
        assert!(
            with.len() * 10 < without.len() * 8,
            "{} bytes with the dictionary, {} without",
            with.len(),
            without.len()
        );
        assert_eq!(unpack(&with, ID).unwrap(), text);
    }

    #[test]
    fn rows_packed_before_with_the_dictionary_alone_still_read() {
        let text = format!(r#"{{"id":"{ID}","kind":"service.request"}}"#);
        let mut old = Compress::new(Compression::new(LEVEL), false);
        old.set_dictionary(DICTIONARY).unwrap();
        let mut packed = Vec::with_capacity(256);
        packed.push(DEFLATE_DICTIONARY);
        old.compress_vec(text.as_bytes(), &mut packed, FlushCompress::Finish)
            .unwrap();
        assert_eq!(unpack(&packed, "some other id").unwrap(), text);
    }

    #[test]
    fn the_id_in_the_dictionary_is_stored_once() {
        let text = format!(r#"{{"id":"{ID}","kind":"service.request","payload":{{}}}}"#);
        let with_id = pack(&text, ID).unwrap();
        let other = pack(&text, "01a23b4d-c5b9-7785-8d2b-318309491552").unwrap();
        assert!(
            with_id.len() + 10 < other.len(),
            "{} bytes with its own id, {} with another",
            with_id.len(),
            other.len()
        );
        assert_eq!(unpack(&with_id, ID).unwrap(), text);
    }

    #[test]
    fn unknown_format_or_damaged_bytes_are_an_error_not_a_panic() {
        assert!(unpack(&[], ID).is_err());
        assert!(unpack(&[9, 1, 2, 3], ID).is_err());
        let mut packed = pack(r#"{"a":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}"#, ID).unwrap();
        packed.truncate(packed.len() / 2);
        assert!(unpack(&packed, ID).is_err());
    }
}
