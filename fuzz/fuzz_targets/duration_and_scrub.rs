//! Duration flags and the log scrubber see user text: no panic, and scrubbing never grows a
//! secret back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = qtool::duration::parse(text);
    let once = qtool::logging::scrub(text);
    let _ = qtool::logging::scrub(&once);
});
