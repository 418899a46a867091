#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| speclog_fuzz::note(data));
