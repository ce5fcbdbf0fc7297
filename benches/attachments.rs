//! Memory and throughput of one large attachment (being written).
fn main() {}
