#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| speclog_fuzz::eval_results(data));
