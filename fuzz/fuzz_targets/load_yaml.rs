//! Fuzzes the loader and every lint rule with arbitrary text: a load may fail, it must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tacos::lint::{LintContext, LintSettings, run};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tree) = tacos::repo::load_str("fuzz.yaml", text) {
        run(&LintContext {
            tree: &tree,
            settings: LintSettings::default(),
        });
    }
});
