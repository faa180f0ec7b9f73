//! A namespace's TCP counters (ports.md §3): `net/snmp` and `net/netstat`
//! print each section as two lines, the names and then the values
//! (`Tcp: RtoAlgorithm … ActiveOpens …` / `Tcp: 1 … 5 …`), and
//! `net/sockstat` the gauges.

use std::fmt;

use super::sockstat;
use crate::model::TcpCounters;
use crate::text::parse_decimal;

/// The four files of one namespace, as read.
pub struct CounterFiles<'a> {
    pub snmp: &'a [u8],
    pub netstat: &'a [u8],
    pub sockstat: &'a [u8],
    pub sockstat6: &'a [u8],
}

#[derive(Debug, PartialEq, Eq)]
pub enum CounterError {
    /// No `Tcp:` (snmp) or `TcpExt:` (netstat) name and value lines.
    NoSection {
        file: &'static str,
        section: &'static str,
    },
    /// The section lacks a counter, or its value is not a number.
    Counter {
        section: &'static str,
        name: &'static str,
    },
    /// sockstat has no readable `TCP:` or `TCP6:` line.
    Sockstat,
}

impl fmt::Display for CounterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CounterError::NoSection { file, section } => {
                write!(f, "{file} has no {section} names and values")
            }
            CounterError::Counter { section, name } => {
                write!(f, "{section} {name} is missing or not a number")
            }
            CounterError::Sockstat => f.write_str("sockstat has no TCP counts"),
        }
    }
}

pub fn tcp_counters(files: &CounterFiles<'_>, read_ms: u64) -> Result<TcpCounters, CounterError> {
    let tcp = Section::find(files.snmp, "snmp", "Tcp")?;
    let tcp_ext = Section::find(files.netstat, "netstat", "TcpExt")?;
    let gauges =
        sockstat::tcp_counts(files.sockstat, files.sockstat6).ok_or(CounterError::Sockstat)?;
    Ok(TcpCounters {
        read_ms,
        active_opens: tcp.counter("ActiveOpens")?,
        passive_opens: tcp.counter("PassiveOpens")?,
        attempt_fails: tcp.counter("AttemptFails")?,
        estab_resets: tcp.counter("EstabResets")?,
        curr_estab: tcp.counter("CurrEstab")?,
        in_segs: tcp.counter("InSegs")?,
        out_segs: tcp.counter("OutSegs")?,
        time_waits_entered: tcp_ext.counter("TW")?,
        in_use: gauges.in_use,
        time_wait: gauges.time_wait,
    })
}

/// One section's names line and values line, label stripped.
struct Section<'a> {
    label: &'static str,
    names: &'a [u8],
    values: &'a [u8],
}

impl<'a> Section<'a> {
    fn find(
        file: &'a [u8],
        file_name: &'static str,
        label: &'static str,
    ) -> Result<Section<'a>, CounterError> {
        let mut prefix = label.as_bytes().to_vec();
        prefix.push(b':');
        let mut lines = file
            .split(|b| *b == b'\n')
            .filter_map(|line| line.strip_prefix(prefix.as_slice()));
        match (lines.next(), lines.next()) {
            (Some(names), Some(values)) => Ok(Section {
                label,
                names,
                values,
            }),
            _ => Err(CounterError::NoSection {
                file: file_name,
                section: label,
            }),
        }
    }

    /// The value in the column `name` heads. Some counters are signed
    /// (`MaxConn` is -1); every one read here is not.
    fn counter(&self, name: &'static str) -> Result<u64, CounterError> {
        let words = |line: &'a [u8]| line.split(|b| *b == b' ').filter(|w| !w.is_empty());
        words(self.names)
            .zip(words(self.values))
            .find(|(column, _)| *column == name.as_bytes())
            .and_then(|(_, value)| parse_decimal(value))
            .ok_or(CounterError::Counter {
                section: self.label,
                name,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded() -> CounterFiles<'static> {
        CounterFiles {
            snmp: include_bytes!("../../testdata/snmp/churn-snmp"),
            netstat: include_bytes!("../../testdata/snmp/churn-netstat"),
            sockstat: include_bytes!("../../testdata/snmp/churn-sockstat"),
            sockstat6: include_bytes!("../../testdata/snmp/churn-sockstat6"),
        }
    }

    #[test]
    fn counters_of_a_namespace_with_known_traffic() {
        // Recorded (Linux 6.18) in a fresh namespace that held one
        // connection to its own listener, made three short ones (the client
        // closing first, so three TIME_WAITs), and one connect() refused:
        // five opened, four accepted, one failed, the held pair established,
        // the listener and the pair in use.
        let counters = tcp_counters(&recorded(), 1234).unwrap();
        assert_eq!(
            counters,
            TcpCounters {
                read_ms: 1234,
                active_opens: 5,
                passive_opens: 4,
                attempt_fails: 1,
                estab_resets: 0,
                curr_estab: 2,
                in_segs: 23,
                out_segs: 23,
                time_waits_entered: 3,
                in_use: 3,
                time_wait: 3,
            }
        );
    }

    #[test]
    fn a_file_without_its_section_or_counter_says_which() {
        let files = recorded();
        let no_tcp = b"Ip: Forwarding\nIp: 1\nUdp: InDatagrams\nUdp: 0\n";
        assert_eq!(
            tcp_counters(
                &CounterFiles {
                    snmp: no_tcp,
                    ..recorded()
                },
                0
            ),
            Err(CounterError::NoSection {
                file: "snmp",
                section: "Tcp"
            })
        );
        // Names but no values line, as a file cut short.
        let cut = b"Tcp: RtoAlgorithm ActiveOpens\n";
        assert!(matches!(
            tcp_counters(
                &CounterFiles {
                    snmp: cut,
                    ..recorded()
                },
                0
            ),
            Err(CounterError::NoSection { .. })
        ));
        let short_values = b"Tcp: ActiveOpens PassiveOpens\nTcp: 5\n";
        let err = tcp_counters(
            &CounterFiles {
                snmp: short_values,
                ..recorded()
            },
            0,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Tcp PassiveOpens is missing or not a number"
        );
        let negative = String::from_utf8_lossy(files.snmp).replace(" 5 4 1 0 2 ", " -5 4 1 0 2 ");
        let err = tcp_counters(
            &CounterFiles {
                snmp: negative.as_bytes(),
                ..recorded()
            },
            0,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Tcp ActiveOpens is missing or not a number"
        );
        assert_eq!(
            tcp_counters(
                &CounterFiles {
                    netstat: b"",
                    ..recorded()
                },
                0
            ),
            Err(CounterError::NoSection {
                file: "netstat",
                section: "TcpExt"
            })
        );
        assert_eq!(
            tcp_counters(
                &CounterFiles {
                    sockstat: b"UDP: inuse 0\n",
                    ..recorded()
                },
                0
            ),
            Err(CounterError::Sockstat)
        );
    }
}
