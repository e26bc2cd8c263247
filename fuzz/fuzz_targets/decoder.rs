#![no_main]
//! Any bytes, split any way: the decoder must agree with itself and keep its promises (see `codec::check`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| sockchat::codec::check(data));
