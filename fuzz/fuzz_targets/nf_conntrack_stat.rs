//! `/proc/<pid>/net/stat/nf_conntrack`:
//! `parse::nf_conntrack_stat::ConntrackStat::parse`.
//!
//! Input: the file.
//!
//! Asserts: no panic; a file read gives, for every field name of its
//! header, the sum of that column over the CPU lines (`entries`: the last
//! line's, the table's size, not a per-CPU count), and nothing for other
//! names; an error names a line of the file (or the one after its last,
//! for a file that stops early) such that every CPU line before it is
//! well formed and the line it names is not.
#![no_main]

use cnetstat::parse::nf_conntrack_stat::ConntrackStat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = ConntrackStat::parse(data);
    let Ok(text) = std::str::from_utf8(data) else {
        let error = parsed.expect_err("bytes that are not text");
        assert_eq!(error.line, 1);
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let names: Vec<&str> = lines
        .first()
        .map_or(Vec::new(), |header| header.split_whitespace().collect());
    let cpu_lines = lines.get(1..).unwrap_or_default();
    let well_formed = |line: &str| {
        let values: Vec<&str> = line.split_whitespace().collect();
        values.len() == names.len()
            && values
                .iter()
                .all(|v| v.len() == 8 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    };

    let stat = match parsed {
        Ok(stat) => stat,
        Err(error) => {
            assert!(error.line >= 1 && error.line <= lines.len() + 1, "{error}");
            if error.line >= 2 {
                let before = &cpu_lines[..error.line - 2];
                assert!(before.iter().all(|line| well_formed(line)), "{error}");
                if let Some(named) = cpu_lines.get(error.line - 2) {
                    assert!(!well_formed(named), "{error}: {named:?}");
                }
            }
            return;
        }
    };

    assert!(!names.is_empty() && !cpu_lines.is_empty());
    for (column, name) in names.iter().enumerate() {
        // The first column of that name is the one `get` finds.
        if names[..column].contains(name) {
            continue;
        }
        let values = cpu_lines.iter().map(|line| {
            let value = line.split_whitespace().nth(column).unwrap();
            u64::from_str_radix(value, 16).unwrap()
        });
        let expected = if *name == "entries" {
            values.last().unwrap()
        } else {
            values.sum()
        };
        assert_eq!(stat.get(name), Some(expected), "{name}");
    }
    for name in ["entries", "insert_failed", "drop", "early_drop", "no such field"] {
        if !names.contains(&name) {
            assert_eq!(stat.get(name), None);
        }
    }
    assert_eq!(stat.entries(), stat.get("entries"));
    assert_eq!(stat.insert_failed(), stat.get("insert_failed"));
    assert_eq!(stat.drop(), stat.get("drop"));
    assert_eq!(stat.early_drop(), stat.get("early_drop"));
});
