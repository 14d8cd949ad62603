//! Any bytes as build.envd: evaluation must end in a plan or an error,
//! never a panic, a hang or an out-of-memory. Seeded with the golden cases
//! (see `scripts/fuzz.sh`).
#![no_main]

use envd_lang::{evaluate, EvalOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        let opts = EvalOptions { target: None, ..Default::default() };
        if let Err(e) = evaluate("build.envd", src, &opts) {
            // Every error is one line of text.
            assert!(!e.message.contains('\n'), "multi-line message: {:?}", e.message);
        }
    }
});
