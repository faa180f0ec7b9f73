//! Snapshot files (`--replay`): `record::parse`.
//!
//! Asserts: no panic, whatever the bytes, and every error prints a message
//! naming the file; a snapshot that reads is of a version this build
//! reads, and written again as `--record` writes it (the escaping JSON
//! formatter) reads back equal, starting with `{"version":`.
#![no_main]

use cnetstat::model::{FORMAT_VERSION, OLDEST_READABLE_VERSION};
use cnetstat::record::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let snapshot = match parse(data, "fuzz.json") {
        Ok(snapshot) => snapshot,
        Err(error) => {
            let message = error.to_string();
            assert!(message.starts_with("fuzz.json: "), "{message}");
            return;
        }
    };
    assert!((OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&snapshot.version));
    let mut line = cnetstat::escape::to_json(&snapshot).unwrap();
    assert!(line.starts_with(b"{\"version\":"));
    line.push(b'\n');
    let again = parse(&line, "again.json")
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&line)));
    assert_eq!(again, snapshot);
});
