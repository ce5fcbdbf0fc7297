//! kuayu's fuzz harnesses. Each target is a plain `run(&[u8])` in [`harness`], so the
//! libFuzzer binaries in `fuzz_targets/` and the smoke test in the main test suite
//! (`tests/it/fuzz_smoke.rs`) drive the same code.
#![forbid(unsafe_code)]

pub mod harness;
