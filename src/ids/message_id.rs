//! Message ids: UUIDs, version 7 (time-ordered) when kuayu makes them; a request's id
//! is the id of the message that opened it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::IdError;

/// A message id: a UUID (version 7, time-ordered, when kuayu makes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageId(Uuid);

impl MessageId {
    /// A new, time-ordered message id.
    pub fn new() -> Self {
        MessageId(Uuid::now_v7())
    }

    /// Parses a message id in the hyphenated UUID form.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.len() != 36 {
            return Err(IdError::new("message id", s, "a hyphenated UUID"));
        }
        Uuid::parse_str(s)
            .map(MessageId)
            .map_err(|_| IdError::new("message id", s, "a hyphenated UUID"))
    }
}

impl Default for MessageId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for MessageId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for MessageId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<MessageId> for String {
    fn from(id: MessageId) -> String {
        id.to_string()
    }
}
