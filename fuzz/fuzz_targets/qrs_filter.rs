//! The sandbox's QRS filter and orderby parsers take text straight from HTTP queries: any input
//! gives a parse error or an expression that evaluates, never a panic, a stack overflow or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qtool_sandbox::qrs::filter::{eval, parse, parse_orderby};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(expr) = parse(text) {
        let app = serde_json::json!({
            "id": "931d847e-b36a-4511-9547-6cc0f46b1b9c",
            "name": "ConsumerSales",
            "published": true,
            "fileSize": 1024,
            "publishTime": "2020-10-21T12:48:16.987Z",
            "stream": {"id": "387f4d65-c171-4120-9db0-3cd537b469a8", "name": "CNPDemo"},
            "tags": [{"name": "a"}, {"name": "b"}],
            "operational": {"lastExecutionResult": {"status": 8}}
        });
        let _ = eval(&expr, &app);
    }
    let _ = parse_orderby(text);
});
