//! libFuzzer entry point of the `envelope` target; the harness is [`kuayu_fuzz::harness::envelope`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kuayu_fuzz::harness::envelope::run(data));
