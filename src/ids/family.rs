//! The families of cross-region work, and what a message kind says about its family and
//! document.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::MessageKind;

/// The five kinds of cross-region work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Commissioned service of documents (委托送达).
    Service,
    /// Remote printing and mailing at the destination (文书异地打印).
    Printing,
    /// Evidence requests (调查取证).
    Evidence,
    /// Preservation orders and their lifting (财产保全 / 解除保全).
    Preservation,
    /// Cross-region case filing (跨域立案): the assisting court sends a filing to the
    /// competent court, which dockets it, asks for corrections, rules or transfers it.
    Filing,
}

impl Family {
    /// Parses a family name as it appears in a message kind.
    pub fn parse(s: &str) -> Option<Family> {
        Some(match s {
            "service" => Family::Service,
            "printing" => Family::Printing,
            "evidence" => Family::Evidence,
            "preservation" => Family::Preservation,
            "filing" => Family::Filing,
            _ => return None,
        })
    }

    /// The family's name in message kinds.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Service => "service",
            Family::Printing => "printing",
            Family::Evidence => "evidence",
            Family::Preservation => "preservation",
            Family::Filing => "filing",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl MessageKind {
    /// The family of work this message belongs to.
    pub fn family(&self) -> Family {
        let (family, _) = self.0.split_once('.').unwrap_or_default();
        // Invariant: `parse` accepted only known families.
        Family::parse(family).unwrap_or(Family::Service)
    }

    /// The document type after the dot (`request`, `result`, `status`, `event`).
    pub fn document(&self) -> &str {
        self.0.split_once('.').map(|(_, d)| d).unwrap_or_default()
    }

    /// Whether this kind opens a new piece of work (`*.request`), rather than
    /// updating one.
    pub fn is_request(&self) -> bool {
        self.document() == "request"
    }

    /// The request kind of a family, e.g. `service.request`.
    pub fn request_of(family: Family) -> MessageKind {
        MessageKind(format!("{}.request", family.as_str()))
    }
}
