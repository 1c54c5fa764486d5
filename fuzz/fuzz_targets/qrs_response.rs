//! QRS answers: the streaming re-indenter (used for large lists) and the enum decoration of items
//! take server bytes as they come. Any bytes in any chunking give the same output or an error,
//! never a panic; valid JSON always re-indents to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qtool::qrs::reindent::Reindent;
use qtool::qrs::resources::ResourceKind;

fn reindent(data: &[u8], chunk: usize) -> Result<Vec<u8>, String> {
    let mut r = Reindent::new();
    let mut out = Vec::new();
    for part in data.chunks(chunk.max(1)) {
        r.feed(part, &mut out)?;
    }
    r.finish(&mut out)?;
    Ok(out)
}

fuzz_target!(|input: &[u8]| {
    let Some((&split, data)) = input.split_first() else { return };
    let whole = reindent(data, data.len());
    let chunked = reindent(data, usize::from(split));
    assert_eq!(whole.is_ok(), chunked.is_ok(), "chunking changed the verdict");
    if let (Ok(a), Ok(b)) = (&whole, &chunked) {
        assert_eq!(a, b, "chunking changed the output");
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let out = whole.expect("valid JSON re-indents");
        let again: serde_json::Value =
            serde_json::from_slice(&out).expect("the re-indented JSON parses");
        assert_eq!(again, value, "re-indenting changed the value");
        let mut items = match value {
            serde_json::Value::Array(items) => items,
            other => vec![other],
        };
        for resource in ResourceKind::ALL {
            for item in &mut items {
                resource.decorate(item);
            }
        }
    }
});
