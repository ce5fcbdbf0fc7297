//! Operations on a gateway's store from outside the running gateway: consistent backups
//! ([`backup`]) and offline verification of the audit chain and receipts ([`verify`]).

pub mod backup;
pub mod verify;
