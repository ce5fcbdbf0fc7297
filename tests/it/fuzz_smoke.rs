//! A short run of each fuzz target (`fuzz/`, see README "Fuzzing") on pseudo-random
//! inputs, so the harnesses build and run with every change. The real runs, coverage
//! guided and a million cases each, are `fuzz/run TARGET`.

#[path = "../../fuzz/src/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

use harness::input::smoke;

/// Cases per target: a few seconds in a debug build.
const CASES: usize = 1500;

#[test]
fn fuzz_envelope_smoke() {
    smoke(CASES, 1, harness::envelope::run);
}

#[test]
fn fuzz_agreement_smoke() {
    smoke(CASES / 5, 2, harness::agreement::run);
}

#[test]
fn fuzz_court_body_smoke() {
    smoke(CASES, 3, harness::court_body::run);
}

#[test]
fn fuzz_calendar_smoke() {
    smoke(CASES, 4, harness::calendar::run);
}
