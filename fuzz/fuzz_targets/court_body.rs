//! libFuzzer entry point of the `court_body` target; the harness is [`kuayu_fuzz::harness::court_body`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kuayu_fuzz::harness::court_body::run(data));
