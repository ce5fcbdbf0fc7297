//! libFuzzer entry point of the `agreement` target; the harness is [`kuayu_fuzz::harness::agreement`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kuayu_fuzz::harness::agreement::run(data));
