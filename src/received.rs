//! Signed documents as they were received. A signature covers the RFC 8785 canonical form
//! of the JSON its signer wrote, and another implementation may write that JSON
//! differently from kuayu (a time as `2026-01-01T00:00:00+08:00`, not
//! `2025-12-31T16:00:00.000Z`; a field kuayu would leave out). So a document read from the
//! wire or a file keeps the JSON it was read from, and everything that checks or hashes
//! it uses that JSON, never a re-serialisation of the parsed struct: [`AsReceived`].
//!
//! Changing the parsed value (through `DerefMut`) drops the received JSON: from then on
//! the document is kuayu's own, and its JSON is the struct's serialisation.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A document parsed from JSON, with the JSON it was parsed from (until it is changed).
/// It serialises as that JSON, so what kuayu stores, serves and forwards is what was
/// signed.
#[derive(Clone)]
pub struct AsReceived<T> {
    value: T,
    json: Option<Arc<Value>>,
}

impl<T> AsReceived<T> {
    /// A document made here (no received JSON: its JSON is its serialisation).
    pub fn new(value: T) -> Self {
        AsReceived { value, json: None }
    }

    /// The JSON it was received as, if it was received and not changed since.
    pub fn received(&self) -> Option<&Value> {
        self.json.as_deref()
    }
}

impl<T: Serialize> AsReceived<T> {
    /// Its JSON: as received, or as kuayu writes it.
    pub fn json(&self) -> Result<Value, serde_json::Error> {
        match &self.json {
            Some(json) => Ok(Value::clone(json)),
            None => serde_json::to_value(&self.value),
        }
    }

    /// The RFC 8785 canonical form of its JSON, without the top-level member `skip` if one
    /// is named (a document's own signature): the bytes a signature over it covers.
    pub fn canonical_without(&self, skip: Option<&str>) -> Result<Vec<u8>, serde_json::Error> {
        let mut json = self.json()?;
        if let (Some(name), Some(map)) = (skip, json.as_object_mut()) {
            map.remove(name);
        }
        crate::crypto::canonical_value(&json)
    }
}

impl<T> Deref for AsReceived<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for AsReceived<T> {
    /// The value, to change: the received JSON no longer describes it and is dropped.
    fn deref_mut(&mut self) -> &mut T {
        self.json = None;
        &mut self.value
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for AsReceived<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: PartialEq> PartialEq for AsReceived<T> {
    /// Equal when the parsed values are (however each was written).
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for AsReceived<T> {}

impl<T: utoipa::PartialSchema> utoipa::PartialSchema for AsReceived<T> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        T::schema()
    }
}

impl<T: utoipa::ToSchema> utoipa::ToSchema for AsReceived<T> {
    fn name() -> std::borrow::Cow<'static, str> {
        T::name()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        T::schemas(schemas)
    }
}

impl<T: Serialize> Serialize for AsReceived<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.json {
            Some(json) => json.serialize(s),
            None => self.value.serialize(s),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for AsReceived<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let json = Value::deserialize(d)?;
        let value = T::deserialize(&json).map_err(D::Error::custom)?;
        Ok(AsReceived {
            value,
            json: Some(Arc::new(json)),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Stamp {
        #[serde(with = "crate::clock::ts")]
        at: OffsetDateTime,
    }

    #[test]
    fn the_json_as_received_is_kept_until_the_value_changes() {
        let text = r#"{"at": "2026-01-01T00:00:00+08:00"}"#;
        let mut s: AsReceived<Stamp> = serde_json::from_str(text).unwrap();
        assert_eq!(
            s.canonical_without(None).unwrap(),
            br#"{"at":"2026-01-01T00:00:00+08:00"}"#
        );
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"at": "2026-01-01T00:00:00+08:00"})
        );
        s.at += time::Duration::hours(1);
        assert!(s.received().is_none());
        assert_eq!(
            s.canonical_without(None).unwrap(),
            br#"{"at":"2025-12-31T17:00:00.000Z"}"#
        );
        let unknown: Result<AsReceived<Stamp>, _> =
            serde_json::from_str(r#"{"at": "2026-01-01T00:00:00Z", "x": 1}"#);
        assert!(unknown.is_err(), "still parsed strictly");
    }
}
