//! libFuzzer entry point of the `calendar` target; the harness is [`kuayu_fuzz::harness::calendar`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kuayu_fuzz::harness::calendar::run(data));
