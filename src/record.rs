//! Snapshot files: `--record` writes the snapshot as one line of JSON,
//! `--replay` reads it back. A file that is not a snapshot this build can
//! read gets one message naming the file and the problem, never a panic.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};

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
    /// A `--watch` recording, given where one snapshot is read.
    Several {
        file: String,
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
            RecordError::Several { file } => write!(
                f,
                "{file}: holds a snapshot per tick of a --watch: replay it with --watch"
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
            let mut created = File::create(path).map_err(failed)?;
            write_line(&mut created, snapshot).map_err(failed)
        }
    }
}

/// Writes the snapshot and a newline, then flushes `writer`.
fn write_line(writer: &mut dyn Write, snapshot: &Snapshot) -> io::Result<()> {
    let mut fragments = Fragments {
        out: writer,
        buf: Vec::with_capacity(FRAGMENTS_WRITTEN_AT + SHORT_FRAGMENT),
    };
    write_json(&mut fragments, snapshot).map_err(io::Error::from)?;
    fragments.buf.push(b'\n');
    fragments.flush()
}

/// serde_json writes a snapshot in fragments of a few bytes (a comma, a
/// port, an address), 13 MB of them at 100k sockets and 50k SNAT flows.
/// Copied into a `BufWriter`, each was a call into musl's `memcpy` in the
/// static build, which took 0.15 s, more than the rest of the recording;
/// short ones are pushed byte by byte instead (as text.rs does), and the
/// buffer goes out in large writes.
struct Fragments<'w> {
    out: &'w mut dyn Write,
    buf: Vec<u8>,
}

const SHORT_FRAGMENT: usize = 32;
const FRAGMENTS_WRITTEN_AT: usize = 1 << 16;

impl Write for Fragments<'_> {
    fn write(&mut self, fragment: &[u8]) -> io::Result<usize> {
        if fragment.len() <= SHORT_FRAGMENT {
            fragment.iter().for_each(|&byte| self.buf.push(byte));
        } else {
            self.buf.extend_from_slice(fragment);
        }
        if self.buf.len() >= FRAGMENTS_WRITTEN_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(fragment.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}

/// A `--watch` recording being written: one snapshot a line, each flushed
/// as it is written, so one cut short loses at most its last line.
pub struct Recording {
    file: String,
    /// None: stdout.
    writer: Option<File>,
}

impl Recording {
    pub fn create(to: &FileArg) -> Result<Recording, RecordError> {
        match to {
            FileArg::Std => Ok(Recording {
                file: "stdout".into(),
                writer: None,
            }),
            FileArg::Path(path) => {
                let file = path.display().to_string();
                let created = File::create(path).map_err(|error| RecordError::Write {
                    file: file.clone(),
                    error,
                })?;
                Ok(Recording {
                    file,
                    writer: Some(created),
                })
            }
        }
    }

    pub fn add(&mut self, snapshot: &Snapshot, stdout: &mut dyn Write) -> Result<(), RecordError> {
        let writer: &mut dyn Write = match &mut self.writer {
            Some(writer) => writer,
            None => stdout,
        };
        write_line(writer, snapshot).map_err(|error| RecordError::Write {
                file: self.file.clone(),
                error,
            })
    }
}

/// The snapshots of a recording, one a line, read one at a time: a long
/// watch's recording is many times what one snapshot holds.
pub struct Snapshots {
    file: String,
    reader: Box<dyn BufRead>,
    line: u64,
    buf: Vec<u8>,
}

impl Snapshots {
    pub fn open(from: &FileArg) -> Result<Snapshots, RecordError> {
        let file = name(from);
        let reader: Box<dyn BufRead> = match from {
            FileArg::Std => Box::new(BufReader::new(io::stdin())),
            FileArg::Path(path) => Box::new(BufReader::new(File::open(path).map_err(|error| {
                RecordError::Open {
                    file: file.clone(),
                    error,
                }
            })?)),
        };
        Ok(Snapshots {
            file,
            reader,
            line: 0,
            buf: Vec::new(),
        })
    }
}

impl Iterator for Snapshots {
    type Item = Result<Snapshot, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            self.line += 1;
            let read = (&mut self.reader)
                .take(MAX_FILE_BYTES + 1)
                .read_until(b'\n', &mut self.buf);
            let where_ = format!("{} line {}", self.file, self.line);
            match read {
                Ok(0) => return None,
                Ok(_) if self.buf.len() as u64 > MAX_FILE_BYTES => {
                    return Some(Err(RecordError::TooLarge { file: where_ }))
                }
                Ok(_) if self.buf.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(_) => return Some(parse(&self.buf, &where_)),
                Err(error) => return Some(Err(RecordError::Read { file: where_, error })),
            }
        }
    }
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
    serde_json::from_slice(bytes).map_err(|error| {
        // A line per snapshot: a watch's recording.
        let second_line = memchr::memchr(b'\n', bytes).map_or(&[][..], |at| &bytes[at + 1..]);
        if leading_version(second_line).is_some() {
            return RecordError::Several { file: file.clone() };
        }
        classify(error, file)
    })
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

    /// The recording is exactly serde_json's text of the snapshot (escaped
    /// by JsonFormatter), however its fragments were buffered: a snapshot
    /// of 3,000 sockets spans many 64 KiB writes.
    #[test]
    fn a_recording_is_the_snapshot_s_json_in_one_line() {
        let mut snapshot = testing::snapshot();
        let sockets = (0..3000u16)
            .map(|i| {
                let local = format!("10.0.{}.{}:{}", i / 256, i % 256, 30000 + i);
                testing::socket(&local, "[2001:db8::1]:443", TcpState::Established, i.into())
            })
            .collect();
        snapshot.namespaces.push(testing::netns(4026532001, sockets));
        let mut out = Vec::new();
        save(&snapshot, &FileArg::Std, &mut out).unwrap();
        let mut expected = crate::escape::to_json(&snapshot).unwrap();
        expected.push(b'\n');
        assert!(expected.len() > 3 * FRAGMENTS_WRITTEN_AT, "{}", expected.len());
        assert!(out == expected, "the recording differs from serde_json's text");
    }

    #[test]
    fn a_recording_reads_back_as_the_same_snapshot() {
        let bytes = recorded();
        assert!(bytes.starts_with(b"{\"version\":3,"));
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

    #[test]
    fn a_watch_recording_is_a_snapshot_a_line_read_one_at_a_time() {
        let dir = std::env::temp_dir().join(format!("cnetstat-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("watch.jsonl");
        let file = FileArg::Path(path.clone());
        let mut recording = Recording::create(&file).unwrap();
        let mut snapshot = testing::snapshot();
        for tick in 0..3 {
            snapshot.taken.boottime_ms = 1_000 + tick * 2_000;
            recording.add(&snapshot, &mut Vec::new()).unwrap();
        }
        drop(recording);
        let read: Vec<u64> = Snapshots::open(&file)
            .unwrap()
            .map(|s| s.unwrap().taken.boottime_ms)
            .collect();
        assert_eq!(read, vec![1_000, 3_000, 5_000]);
        // Read as one snapshot, it says what it is.
        let message = load(&file).unwrap_err().to_string();
        assert!(message.ends_with("holds a snapshot per tick of a --watch: replay it with --watch"), "{message}");
        // Cut short while the last line was written: the ones before read,
        // then the line that is cut short is named.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        let results: Vec<Result<Snapshot, RecordError>> = Snapshots::open(&file).unwrap().collect();
        assert_eq!(results.len(), 3);
        assert!(results[..2].iter().all(|r| r.is_ok()));
        let message = results[2].as_ref().unwrap_err().to_string();
        assert!(message.contains("watch.jsonl line 3: truncated"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
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
                text.replacen("\"version\":3", "\"version\":99", 1)
                    .into_bytes(),
                "format 99 is newer",
            ),
            (
                text.replacen("\"version\":3", "\"version\":0", 1)
                    .into_bytes(),
                "format 0 is older",
            ),
            (
                b"{\"taken\":{},\"version\":4}".to_vec(),
                "format 4 is newer",
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
