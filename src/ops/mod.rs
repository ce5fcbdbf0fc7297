//! Operations on a gateway's store from outside the running gateway: consistent backups
//! ([`backup`]), offline verification of the audit chain and receipts ([`verify`]), and
//! the retention purge ([`purge`]).

pub mod backup;
pub mod purge;
pub mod verify;
