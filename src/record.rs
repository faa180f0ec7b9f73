//! Snapshot files: `--record` writes the snapshot as one line of JSON,
//! `--replay` reads it back. A file that is not a snapshot this build can
//! read gets one message naming the file and the problem, never a panic.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use serde::Deserialize;

use crate::cli::FileArg;
use crate::escape::write_json;
use crate::model::{Snapshot, FORMAT_VERSION, OLDEST_READABLE_VERSION};

/// A recording of a million sockets is about 85 MB; this leaves room and
/// still bounds what a wrong file can make cnetstat hold in memory.
const MAX_FILE_BYTES: u64 = 1 << 30;

#[derive(Debug)]
pub enum RecordError {
    Open {
        file: String,
        error: io::Error,
    },
    Read {
        file: String,
        error: io::Error,
    },
    Write {
        file: String,
        error: io::Error,
    },
    TooLarge {
        file: String,
    },
    Empty {
        file: String,
    },
    /// The file ends before the snapshot does.
    Truncated {
        file: String,
    },
    /// Not JSON at all.
    Corrupt {
        file: String,
        error: serde_json::Error,
    },
    /// JSON, but not a snapshot.
    NotSnapshot {
        file: String,
        problem: String,
    },
    Newer {
        file: String,
        version: u64,
    },
    Older {
        file: String,
        version: u64,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Open { file, error } => write!(f, "{file}: cannot open: {error}"),
            RecordError::Read { file, error } => write!(f, "{file}: cannot read: {error}"),
            RecordError::Write { file, error } => {
                write!(f, "{file}: cannot write the recording: {error}")
            }
            RecordError::TooLarge { file } => write!(
                f,
                "{file}: larger than {} MiB, which no snapshot is",
                MAX_FILE_BYTES >> 20
            ),
            RecordError::Empty { file } => write!(f, "{file}: empty, not a cnetstat snapshot"),
            RecordError::Truncated { file } => write!(
                f,
                "{file}: truncated: the snapshot ends early (was the recording cut off?)"
            ),
            RecordError::Corrupt { file, error } => {
                write!(f, "{file}: corrupt, not JSON: {error}")
            }
            RecordError::NotSnapshot { file, problem } => {
                write!(f, "{file}: not a cnetstat snapshot: {problem}")
            }
            RecordError::Newer { file, version } => write!(
                f,
                "{file}: snapshot format {version} is newer than this cnetstat reads \
                 ({OLDEST_READABLE_VERSION} to {FORMAT_VERSION}); use a cnetstat at least as new \
                 as the one that recorded it"
            ),
            RecordError::Older { file, version } => write!(
                f,
                "{file}: snapshot format {version} is older than this cnetstat reads \
                 ({OLDEST_READABLE_VERSION} to {FORMAT_VERSION}); replay it with the cnetstat \
                 that recorded it"
            ),
        }
    }
}

fn name(file: &FileArg) -> String {
    match file {
        FileArg::Path(path) => path.display().to_string(),
        FileArg::Std => "stdin".into(),
    }
}

/// Writes the snapshot as one JSON line.
pub fn save(snapshot: &Snapshot, to: &FileArg, stdout: &mut dyn Write) -> Result<(), RecordError> {
    let file = match to {
        FileArg::Path(path) => path.display().to_string(),
        FileArg::Std => "stdout".into(),
    };
    let failed = |error| RecordError::Write {
        file: file.clone(),
        error,
    };
    match to {
        FileArg::Std => write_line(stdout, snapshot).map_err(failed),
        FileArg::Path(path) => {
            let created = File::create(path).map_err(failed)?;
            let mut writer = BufWriter::with_capacity(1 << 16, created);
            write_line(&mut writer, snapshot)
                .and_then(|()| writer.flush())
                .map_err(failed)
        }
    }
}

fn write_line(writer: &mut dyn Write, snapshot: &Snapshot) -> io::Result<()> {
    write_json(&mut *writer, snapshot).map_err(io::Error::from)?;
    writer.write_all(b"\n")
}

pub fn load(from: &FileArg) -> Result<Snapshot, RecordError> {
    let file = name(from);
    let bytes = read_capped(from, &file)?;
    parse(&bytes, &file)
}

fn read_capped(from: &FileArg, file: &str) -> Result<Vec<u8>, RecordError> {
    let mut bytes = Vec::new();
    let read = match from {
        FileArg::Std => io::stdin()
            .lock()
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes),
        FileArg::Path(path) => {
            let opened = File::open(path).map_err(|error| RecordError::Open {
                file: file.to_owned(),
                error,
            })?;
            opened.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)
        }
    };
    read.map_err(|error| RecordError::Read {
        file: file.to_owned(),
        error,
    })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(RecordError::TooLarge {
            file: file.to_owned(),
        });
    }
    Ok(bytes)
}

/// The version is checked before the rest is read: a newer file could
/// otherwise parse, with what this build does not know silently dropped.
pub fn parse(bytes: &[u8], file: &str) -> Result<Snapshot, RecordError> {
    let file = file.to_owned();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RecordError::Empty { file });
    }
    let version = match leading_version(bytes) {
        Some(version) => version,
        None => probe_version(bytes, &file)?,
    };
    if version > u64::from(FORMAT_VERSION) {
        return Err(RecordError::Newer { file, version });
    }
    if version < u64::from(OLDEST_READABLE_VERSION) {
        return Err(RecordError::Older { file, version });
    }
    serde_json::from_slice(bytes).map_err(|error| classify(error, file))
}

/// `{"version":N,` at the very start, as [`save`] writes it.
fn leading_version(bytes: &[u8]) -> Option<u64> {
    let rest = bytes.strip_prefix(b"{\"version\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if rest.get(digits) != Some(&b',') {
        return None;
    }
    crate::text::parse_decimal(&rest[..digits])
}

/// The `version` key of a JSON object, read without building the rest.
fn probe_version(bytes: &[u8], file: &str) -> Result<u64, RecordError> {
    let probe: VersionProbe =
        serde_json::from_slice(bytes).map_err(|error| classify(error, file.to_owned()))?;
    let problem = match probe.0 {
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(version) => return Ok(version),
            None => format!("its version is {n}, not a whole number"),
        },
        Some(other) => format!("its version is {other}, not a whole number"),
        None => "it has no \"version\" key".into(),
    };
    Err(RecordError::NotSnapshot {
        file: file.to_owned(),
        problem,
    })
}

/// An object's `version`, every other key skipped unbuilt; anything but an
/// object is refused (a derived struct would also take an array).
struct VersionProbe(Option<serde_json::Value>);

impl<'de> Deserialize<'de> for VersionProbe {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> serde::de::Visitor<'de> for ObjectVisitor {
            type Value = VersionProbe;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a snapshot object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<VersionProbe, A::Error> {
                let mut version = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<str>>()? {
                    if key == "version" {
                        version = Some(map.next_value()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(VersionProbe(version))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

fn classify(error: serde_json::Error, file: String) -> RecordError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Eof => RecordError::Truncated { file },
        Category::Syntax => RecordError::Corrupt { file, error },
        Category::Data => RecordError::NotSnapshot {
            file,
            problem: error.to_string(),
        },
        Category::Io => RecordError::Read {
            file,
            error: error.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, TcpState};

    fn recorded() -> Vec<u8> {
        let mut snapshot = testing::snapshot();
        snapshot.namespaces.push(testing::netns(
            4026532001,
            vec![testing::socket(
                "10.0.0.5:40000",
                "10.0.0.9:443",
                TcpState::TimeWait,
                0,
            )],
        ));
        let mut out = Vec::new();
        save(&snapshot, &FileArg::Std, &mut out).unwrap();
        out
    }

    #[test]
    fn a_recording_reads_back_as_the_same_snapshot() {
        let bytes = recorded();
        assert!(bytes.starts_with(b"{\"version\":2,"));
        assert!(bytes.ends_with(b"}\n"));
        assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1);
        let mut expected = testing::snapshot();
        expected.namespaces.push(testing::netns(
            4026532001,
            vec![testing::socket(
                "10.0.0.5:40000",
                "10.0.0.9:443",
                TcpState::TimeWait,
                0,
            )],
        ));
        assert_eq!(parse(&bytes, "x").unwrap(), expected);
    }

    fn error_of(bytes: &[u8]) -> String {
        parse(bytes, "node.json").unwrap_err().to_string()
    }

    #[test]
    fn every_bad_file_gets_one_message_naming_it_and_the_problem() {
        let good = recorded();
        let text = String::from_utf8(good.clone()).unwrap();
        for (bytes, needle) in [
            (b"".to_vec(), "empty"),
            (b"  \n".to_vec(), "empty"),
            (good[..good.len() / 2].to_vec(), "truncated"),
            (good[..good.len() - 3].to_vec(), "truncated"),
            (b"\x89PNG\r\n".to_vec(), "corrupt, not JSON"),
            (b"{\"version\":1,}".to_vec(), "corrupt, not JSON"),
            (b"[1,2,3]".to_vec(), "not a cnetstat snapshot"),
            (b"{\"hello\":1}".to_vec(), "no \"version\" key"),
            (b"{\"version\":\"one\"}".to_vec(), "not a whole number"),
            (
                b"{\"version\":1,\"taken\":7}".to_vec(),
                "not a cnetstat snapshot",
            ),
            (
                text.replacen("\"version\":2", "\"version\":99", 1)
                    .into_bytes(),
                "format 99 is newer",
            ),
            (
                text.replacen("\"version\":2", "\"version\":0", 1)
                    .into_bytes(),
                "format 0 is older",
            ),
            (
                b"{\"taken\":{},\"version\":3}".to_vec(),
                "format 3 is newer",
            ),
            (
                text.replacen(",6,", ",14,", 1).into_bytes(),
                "unknown TCP state 14",
            ),
        ] {
            let message = error_of(&bytes);
            assert!(message.starts_with("node.json: "), "{message}");
            assert!(message.contains(needle), "{needle}: {message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }
}
