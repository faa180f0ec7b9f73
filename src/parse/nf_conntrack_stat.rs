//! `/proc/<pid>/net/stat/nf_conntrack`: the conntrack counters of one
//! namespace, what `conntrack -S` shows (ports.md §4.6). A header line of
//! field names, then one line per possible CPU of 8-digit hex numbers
//! (net/netfilter/nf_conntrack_standalone.c, ct_cpu_seq_show):
//!
//! ```text
//! entries  clashres found new invalid ignore delete chainlength insert insert_failed drop ...
//! 00000010  00000000 00000000 ...
//! ```
//!
//! `entries` is the namespace's table size, the same on every line; the
//! other fields are per-CPU counts to be summed. The set of fields changed
//! across kernels (`clashres` and `chainlength` are 5.x additions), so
//! fields are found by name.

use std::fmt;

/// Summed counters by name, in the file's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConntrackStat {
    fields: Vec<(String, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatError {
    /// 1-based line of the file.
    pub line: usize,
    pub problem: &'static str,
}

impl fmt::Display for StatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "net/stat/nf_conntrack line {}: {}",
            self.line, self.problem
        )
    }
}

impl std::error::Error for StatError {}

impl ConntrackStat {
    pub fn parse(text: &[u8]) -> Result<ConntrackStat, StatError> {
        let text = std::str::from_utf8(text).map_err(|_| StatError {
            line: 1,
            problem: "not ASCII",
        })?;
        let mut lines = text.lines();
        let mut fields: Vec<(String, u64)> = lines
            .next()
            .ok_or(StatError {
                line: 1,
                problem: "empty file",
            })?
            .split_whitespace()
            .map(|name| (name.to_owned(), 0))
            .collect();
        if fields.is_empty() {
            return Err(StatError {
                line: 1,
                problem: "no field names",
            });
        }
        let mut cpus = 0;
        for (n, line) in lines.enumerate() {
            let fail = |problem| StatError {
                line: n + 2,
                problem,
            };
            let values: Vec<&str> = line.split_whitespace().collect();
            if values.len() != fields.len() {
                return Err(fail("a different number of values than field names"));
            }
            for ((name, sum), value) in fields.iter_mut().zip(values) {
                if value.len() != 8 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(fail("a value is not 8 hex digits"));
                }
                let value = u64::from(u32::from_str_radix(value, 16).map_err(|_| fail("bad hex"))?);
                if name == "entries" {
                    *sum = value;
                } else {
                    *sum += value;
                }
            }
            cpus += 1;
        }
        if cpus == 0 {
            return Err(StatError {
                line: 2,
                problem: "no CPU lines",
            });
        }
        Ok(ConntrackStat { fields })
    }

    /// A field by the name the header gives it; None when this kernel
    /// does not have it.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// Entries in the namespace's table now.
    pub fn entries(&self) -> Option<u64> {
        self.get("entries")
    }

    /// Clashes at confirmation that were dropped: SNAT exhaustion or the
    /// DNS race.
    pub fn insert_failed(&self) -> Option<u64> {
        self.get("insert_failed")
    }

    pub fn drop(&self) -> Option<u64> {
        self.get("drop")
    }

    /// Entries evicted because the table was full.
    pub fn early_drop(&self) -> Option<u64> {
        self.get("early_drop")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded in the lab's nat namespace with 16 entries (conntrack -C
    /// said 16) on a 2-CPU machine, no drops (conntrack -S all 0):
    /// testdata/conntrack/README.md.
    const RECORDED: &[u8] = include_bytes!("../../testdata/proc_net/nf_conntrack_stat");

    #[test]
    fn recorded_file() {
        let stat = ConntrackStat::parse(RECORDED).unwrap();
        assert_eq!(stat.entries(), Some(16));
        assert_eq!(stat.get("found"), Some(0));
        assert_eq!(stat.insert_failed(), Some(0));
        assert_eq!(stat.drop(), Some(0));
        assert_eq!(stat.early_drop(), Some(0));
        assert_eq!(stat.get("clashres"), Some(0));
        assert_eq!(stat.get("chainlength"), Some(0));
        let names: Vec<&str> = stat.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 17);
        assert_eq!(names[..4], ["entries", "clashres", "found", "new"]);
    }

    #[test]
    fn sums_per_cpu_and_takes_entries_once() {
        let text = b"entries  found insert_failed drop\n\
                     00000005  00000001 00000002 00000003\n\
                     00000005  0000000a 00000000 ffffffff\n";
        let stat = ConntrackStat::parse(text).unwrap();
        assert_eq!(stat.entries(), Some(5));
        assert_eq!(stat.get("found"), Some(11));
        assert_eq!(stat.insert_failed(), Some(2));
        assert_eq!(stat.drop(), Some(3 + 0xffff_ffff));
        assert_eq!(stat.early_drop(), None);
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases: [(&[u8], usize); 5] = [
            (b"", 1),
            (b"entries found\n", 2),
            (b"entries found\n00000001\n", 2),
            (b"entries found\n00000001 0000000g\n", 2),
            (b"entries found\n00000001 00000002\n00000001 1\n", 3),
        ];
        for (text, line) in cases {
            let err = ConntrackStat::parse(text).unwrap_err();
            assert_eq!(err.line, line, "{:?}: {err}", String::from_utf8_lossy(text));
        }
    }
}
