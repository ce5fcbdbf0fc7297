//! kuayu (跨域, "across regions"): a federation gateway between provincial court networks.
#![forbid(unsafe_code)]

pub mod agreement;
pub mod audit;
pub mod clock;
pub mod crypto;
pub mod envelope;
pub mod ids;
pub mod problem;
pub mod receipt;
pub mod schema;
pub mod store;
pub mod tls;
