//! Container names from the Docker Engine API: one `GET /containers/json?all=1`
//! for the whole node, over the daemon's Unix socket or plain TCP.
//!
//! The API version is negotiated as the official client does (moby
//! `client/ping.go`): `GET /_ping`, then the lower of the daemon's
//! `Api-Version` header and ours. Of the list we read only `Id`, `Names` and
//! `Labels`, which keep their shape from API 1.24 on. Kubernetes containers
//! are named by the labels dockershim and cri-dockerd set, or failing those
//! by their `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>` Docker name
//! (runtimes.md §2.4; Mirantis/cri-dockerd `core/naming.go`).
//!
//! The daemon is not trusted to be well. The whole call ends by one
//! deadline (names/mod.rs gives it 5 s, and gives up on its thread a second
//! later), whatever arrives or does not, and its memory is bounded whatever
//! the answer holds: the list is parsed as it arrives, one entry at a time,
//! straight into [`ContainerInfo`]s, copying only the strings kept and
//! skipping the rest unread. The limits, each explained where it is set:
//!
//! - at most [`MAX_RESPONSE_BYTES`] (64 MiB) read per answer, head and
//!   framing included; in http.rs, at most 100 header fields of at most
//!   8 KiB a line, read through one 64 KiB buffer;
//! - entries of at most [`MAX_ENTRY_BYTES`] (4 MiB), nested at most
//!   [`MAX_DEPTH`] (64) deep;
//! - at most [`MAX_CONTAINERS`] (10 000) containers, each string kept at
//!   most [`MAX_KEPT_BYTES`] (256 bytes).
//!
//! What the hostile daemons of tests/hostile_docker.rs cost: wall time from
//! spawn to exit and peak RSS of the cnetstat process, for the debug build
//! `cargo test` runs and for the static release build (the worse of two
//! runs on 2 cores). "Before" is the release build of the client this
//! replaced (whole body buffered, then a `HashMap` of labels per entry;
//! blank where not measured).
//! Every warning starts with the endpoint; `GET list` stands for
//! `GET /v1.41/containers/json?all=1`.
//!
//! | daemon                              | debug s | MiB  | release s | MiB  | before MiB | the warning says |
//! |-------------------------------------|---------|------|-----------|------|------------|------------------|
//! | never accepts (backlog full)        | 5.03    | 4.8  | 5.02      | 1.0  | 0.9 (6.02 s) | no answer within 5s: connect did not complete (the daemon is not accepting connections) |
//! | hangs after accept                  | 5.02    | 4.9  | 5.02      | 1.0  | 1.1        | GET /_ping: no answer within 5s: connected, but the daemon sent nothing |
//! | drips a byte every 100 ms           | 5.02    | 4.9  | 5.02      | 1.0  | 1.1        | GET /_ping: the answer's head was still arriving at the 5s deadline, 49 bytes so far (the daemon sends too slowly) |
//! | stops mid-answer                    | 5.04    | 5.0  | 5.02      | 1.1  | 1.1        | GET list: the daemon stopped mid-answer: 3702 bytes received, then nothing for 5.0s up to the 5s deadline |
//! | sends the list at 16 KiB/s          | 5.01    | 4.9  | 5.01      | 1.1  | 1.1        | GET list: the answer was still arriving at the 5s deadline, 76958 bytes so far (too large an answer, or too slow a daemon) |
//! | endless header lines                | 0.01    | 4.8  | 0.01      | 1.0  | 107.8      | GET /_ping: more than 100 lines in the headers |
//! | one endless header line             | 0.02    | 4.7  | 0.01      | 1.1  |            | GET /_ping: a line of the headers longer than 8192 bytes ("X-Endless: aaa…") |
//! | 512 MiB body of 100 KiB entries     | 0.89    | 5.2  | 0.10      | 1.4  | 64.9       | GET list: response larger than 64 MiB |
//! | chunk size `fff…` (21 digits)       | 0.02    | 4.8  | 0.01      | 1.0  | 1.1        | GET list: malformed chunk "fffffffffffffffffffff" |
//! | chunk size `-1`                     | 0.02    | 4.9  | 0.01      | 1.0  | 0.9        | GET list: malformed chunk "-1" |
//! | chunk size `10000000000000000`      | 0.02    | 4.8  | 0.02      | 1.0  | 0.9        | GET list: malformed chunk "10000000000000000" |
//! | chunk size `7fffffffffffffff`       | 0.02    | 4.8  | 0.01      | 1.0  | 0.9        | GET list: response larger than 64 MiB |
//! | 100 000 `[`                         | 0.02    | 4.9  | 0.01      | 1.1  | 1.1        | GET list: not a container list: entry 1 at byte 1 is not an object |
//! | 100 000 `[` in an entry             | 0.01    | 4.9  | 0.03      | 1.1  |            | GET list: not a container list: entry 1 nests deeper than 64 levels at byte 83 |
//! | Api-Version `99999999999999999999.1` | 0.02   | 4.9  | 0.02      | 1.1  |            | (none: v1.56 asked for, every owner named) |
//! | Api-Version `1.`, empty, `１.４４`, not UTF-8; the daemon refuses < 1.44 | 0.02 | 5.0 | 0.02 | 1.1 | | GET /v1.24/containers/json?all=1: HTTP 400: client version 1.24 is too old. Minimum supported API version is 1.44, … (the daemon's Api-Version "1." is not a version, so 1.24 was asked for) |
//! | a million 1.6 KiB entries           | 0.55    | 8.7  | 0.07      | 4.8  | 64.8       | GET list: the list holds more than 10000 containers, more than cnetstat keeps (stopped at byte 18193554) |
//! | 10 000 1.6 KiB entries (the cap)    | 0.61    | 16.9 | 0.14      | 12.7 | 49.9       | (none: every owner named) |
//! | 10 000 entries, kept strings 256 B  | 0.45    | 37.1 | 0.19      | 35.4 | 36.8       | (none: every owner named) |
//! | 30 MiB of 1 MiB entries, tiny labels | 0.78   | 6.0  | 0.19      | 2.1  | 267 (531 for 60 MiB) | (none: every owner named) |

use std::borrow::Cow;
use std::env;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use memchr::memchr2;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::http::{self, size, HttpError};
use crate::model::{ContainerInfo, PodInfo, Runtime, SANDBOX_NAME};
use crate::parse::ids::{
    labelled_pod, CONTAINER_NAME_LABEL, POD_NAMESPACE_LABEL, POD_NAME_LABEL, POD_UID_LABEL,
};

/// Where the daemon listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    /// A socket found under `--root`, opened O_PATH there so that nothing
    /// swapped in after the lookup is what gets connected to.
    UnixInRoot(Arc<RootSocket>),
    /// `host:port`, as given.
    Tcp(String),
}

/// The O_PATH descriptor of a socket under the root, and its path there
/// for messages. Connected through `/proc/self/fd/N`, which is the inode
/// the descriptor holds.
#[derive(Debug)]
pub struct RootSocket {
    pub handle: OwnedFd,
    pub shown: PathBuf,
}

impl PartialEq for RootSocket {
    fn eq(&self, other: &RootSocket) -> bool {
        self.handle.as_raw_fd() == other.handle.as_raw_fd()
    }
}

impl Eq for RootSocket {}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::UnixInRoot(socket) => write!(f, "unix://{}", socket.shown.display()),
            Endpoint::Tcp(address) => write!(f, "tcp://{address}"),
        }
    }
}

#[derive(Debug)]
pub enum DockerError {
    /// A Docker host address cnetstat cannot talk to.
    UnsupportedHost { value: String, reason: &'static str },
    Connect {
        endpoint: Endpoint,
        error: io::Error,
    },
    /// The call's deadline passed; `stall` says where it stood. `path` is
    /// None before a request was under way.
    TimedOut {
        endpoint: Endpoint,
        path: Option<String>,
        after: Duration,
        stall: Stall,
    },
    /// The answer to `path` was not a well-formed HTTP response.
    Http {
        endpoint: Endpoint,
        path: String,
        error: HttpError,
    },
    /// The daemon answered with an error status; `message` is the one its
    /// JSON error body carries, or the start of the body. `unusable_version`
    /// is the daemon's `Api-Version` when it was not a version, so the
    /// request fell back to [`FALLBACK_API`].
    Status {
        endpoint: Endpoint,
        path: String,
        status: u16,
        message: String,
        unusable_version: Option<String>,
    },
    BadJson {
        endpoint: Endpoint,
        path: String,
        error: ListError,
    },
}

/// Where a call stood when its deadline passed.
#[derive(Debug, Clone, PartialEq)]
pub enum Stall {
    /// Looking up a tcp:// host's name.
    Resolve,
    /// connect(2) had not completed: the daemon is not accepting.
    Connect,
    /// The request could not be written: the daemon is not reading.
    Send,
    /// Connected and sent, but not a byte came back.
    Silent,
    /// `received` bytes came, then nothing for `idle` up to the deadline.
    Stopped { received: u64, idle: Duration },
    /// Bytes were still arriving, `received` so far; `in_body` once the
    /// head was complete.
    Arriving { received: u64, in_body: bool },
    /// The whole answer, `received` bytes, was in and still being parsed.
    Parsing { received: u64 },
}

/// A daemon whose last byte is older than this at the deadline has stopped,
/// rather than sending slowly.
const STOPPED_AFTER: Duration = Duration::from_secs(1);

impl fmt::Display for DockerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerError::UnsupportedHost { value, reason } => {
                write!(f, "cannot use \"{}\": {reason}", value.escape_debug())
            }
            DockerError::Connect { endpoint, error } => {
                write!(f, "{endpoint}: cannot connect: ")?;
                match (endpoint, error.kind()) {
                    (Endpoint::Unix(_) | Endpoint::UnixInRoot(_), io::ErrorKind::NotFound) => {
                        f.write_str("no such socket")
                    }
                    (_, io::ErrorKind::ConnectionRefused) => f.write_str("connection refused"),
                    (_, io::ErrorKind::PermissionDenied) => f.write_str("permission denied"),
                    _ => write!(f, "{error}"),
                }
            }
            DockerError::TimedOut {
                endpoint,
                path,
                after,
                stall,
            } => {
                write!(f, "{endpoint}: ")?;
                if let Some(path) = path {
                    write!(f, "GET {path}: ")?;
                }
                match stall {
                    Stall::Resolve => write!(
                        f,
                        "no answer within {after:?}: the host name did not resolve"
                    ),
                    Stall::Connect => write!(
                        f,
                        "no answer within {after:?}: connect did not complete \
                         (the daemon is not accepting connections)"
                    ),
                    Stall::Send => write!(
                        f,
                        "no answer within {after:?}: the request could not be sent \
                         (the daemon is not reading)"
                    ),
                    Stall::Silent => write!(
                        f,
                        "no answer within {after:?}: connected, but the daemon sent nothing"
                    ),
                    Stall::Stopped { received, idle } => write!(
                        f,
                        "the daemon stopped mid-answer: {} received, then nothing \
                         for {:.1}s up to the {after:?} deadline",
                        size(*received),
                        idle.as_secs_f64()
                    ),
                    Stall::Arriving {
                        received,
                        in_body: false,
                    } => write!(
                        f,
                        "the answer's head was still arriving at the {after:?} deadline, \
                         {} so far (the daemon sends too slowly)",
                        size(*received)
                    ),
                    Stall::Arriving {
                        received,
                        in_body: true,
                    } => write!(
                        f,
                        "the answer was still arriving at the {after:?} deadline, \
                         {} so far (too large an answer, or too slow a daemon)",
                        size(*received)
                    ),
                    Stall::Parsing { received } => write!(
                        f,
                        "the answer, {}, was still being parsed at the {after:?} deadline",
                        size(*received)
                    ),
                }
            }
            DockerError::Http {
                endpoint,
                path,
                error,
            } => write!(f, "{endpoint}: GET {path}: {error}"),
            DockerError::Status {
                endpoint,
                path,
                status,
                message,
                unusable_version,
            } => {
                write!(f, "{endpoint}: GET {path}: HTTP {status}: {message}")?;
                if let Some(version) = unusable_version {
                    write!(
                        f,
                        " (the daemon's Api-Version \"{version}\" is not a version, \
                         so {}.{} was asked for)",
                        FALLBACK_API.0, FALLBACK_API.1
                    )?;
                }
                Ok(())
            }
            DockerError::BadJson {
                endpoint,
                path,
                error,
            } => write!(f, "{endpoint}: GET {path}: {error}"),
        }
    }
}

impl std::error::Error for DockerError {}

/// Parses a `DOCKER_HOST` value: `unix://PATH` or `tcp://HOST:PORT`. A
/// trailing `/` is accepted; a base path after it, which the Docker CLI
/// would prefix to every request, is refused rather than silently dropped.
pub fn parse_docker_host(value: &str) -> Result<Endpoint, DockerError> {
    let refuse = |reason| {
        Err(DockerError::UnsupportedHost {
            value: value.to_owned(),
            reason,
        })
    };
    let Some((scheme, rest)) = value.split_once("://") else {
        return refuse("expected unix://PATH or tcp://HOST:PORT");
    };
    match scheme {
        "unix" if rest.is_empty() => refuse("unix:// needs the socket's path"),
        "unix" => Ok(Endpoint::Unix(PathBuf::from(rest))),
        "tcp" => {
            let address = rest.strip_suffix('/').unwrap_or(rest);
            if address.contains('/') {
                return refuse("a base path after tcp://HOST:PORT is not supported");
            }
            let Some((host, port)) = address.rsplit_once(':') else {
                return refuse("tcp:// needs HOST:PORT");
            };
            let valid_host = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._[]:%".contains(&b));
            match port.parse::<u16>() {
                _ if !valid_host => refuse("tcp:// needs HOST:PORT"),
                Ok(2376) => refuse("port 2376 is Docker's TLS port, and TLS is not supported"),
                Ok(port) if port != 0 => Ok(Endpoint::Tcp(address.to_owned())),
                _ => refuse("tcp:// needs HOST:PORT"),
            }
        }
        "ssh" => refuse("ssh:// is not supported: run cnetstat on the node itself"),
        "npipe" => refuse("npipe:// is a Windows named pipe, not supported"),
        _ => refuse("unknown scheme; expected unix://PATH or tcp://HOST:PORT"),
    }
}

/// The endpoint `DOCKER_HOST` names, or None when it is unset or empty.
/// A tcp:// host is refused when `DOCKER_TLS_VERIFY` asks for TLS.
pub fn endpoint_from_env() -> Option<Result<Endpoint, DockerError>> {
    let host = env::var_os("DOCKER_HOST")?;
    let tls_verify = env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty());
    match host.to_str() {
        Some("") => None,
        Some(value) => Some(refuse_tls(value, parse_docker_host(value), tls_verify)),
        None => Some(Err(DockerError::UnsupportedHost {
            value: host.to_string_lossy().into_owned(),
            reason: "not valid UTF-8",
        })),
    }
}

fn refuse_tls(
    value: &str,
    parsed: Result<Endpoint, DockerError>,
    tls_verify: bool,
) -> Result<Endpoint, DockerError> {
    match parsed {
        // The Docker client uses TLS on tcp:// only; a Unix socket ignores it.
        Ok(Endpoint::Tcp(_)) if tls_verify => Err(DockerError::UnsupportedHost {
            value: value.to_owned(),
            reason: "DOCKER_TLS_VERIFY is set, and TLS is not supported",
        }),
        other => other,
    }
}

/// The newest API version this code knows of (moby's MaxAPIVersion when it
/// was written, runtimes.md §2.2). Daemons since Docker 29 refuse anything
/// below 1.44, so capping lower would lock them out.
const OUR_MAX_API: ApiVersion = ApiVersion(1, 56);
/// What to ask for when the daemon does not say: the oldest version every
/// daemon still accepts, per moby's `MinAPIVersion`.
const FALLBACK_API: ApiVersion = ApiVersion(1, 24);

/// The most bytes read from one answer, head and framing included. A real
/// list is far smaller (a container's summary is 1 to 3 KiB; a dockershim
/// sandbox carrying its pod's annotations as labels at most about 300 KiB),
/// but this is the bound on a daemon or proxy that streams without end.
/// The answer is parsed as it arrives, so this bounds time, not memory.
const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// The most containers kept. Memory grows with them: a container costs
/// about 1.2 KiB from its entry to its place in the catalog, and up to
/// about 3.4 KiB with every kept string at [`MAX_KEPT_BYTES`] (a pod too
/// for each), so 10 000 stay within cnetstat's 64 MiB (measured in the
/// table above). A Kubernetes node holds at most a few thousand, even at
/// 500 pods and counting the exited containers the kubelet keeps; a
/// dockerd with more takes seconds to list them anyway.
const MAX_CONTAINERS: usize = 10_000;
/// The longest id, name or label value kept: Kubernetes names are at most
/// 253 bytes and Docker ids 64. A longer id cannot be a container's, and
/// its entry is skipped; a longer name or label is left out.
const MAX_KEPT_BYTES: usize = 256;
/// The longest single entry of the list; entries are buffered whole, then
/// parsed. 16 times the largest a dockershim sandbox can be (Kubernetes
/// caps a pod's annotations, which dockershim copies into labels, at 256
/// KiB).
const MAX_ENTRY_BYTES: usize = 4 << 20;
/// The deepest nesting inside an entry (the entry itself is level 1); a
/// summary nests 5 deep (`NetworkSettings.Networks.<name>.IPAMConfig`).
/// serde_json's own limit is 128.
const MAX_DEPTH: u32 = 64;
/// The most of an error answer's body read for its message.
const ERROR_BODY_BYTES: usize = 64 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ApiVersion(u32, u32);

impl ApiVersion {
    /// `MAJOR.MINOR` in decimal digits. A part too large for u32 saturates:
    /// such a version is newer than ours whatever its exact value.
    fn parse(text: &str) -> Option<ApiVersion> {
        let (major, minor) = text.trim().split_once('.')?;
        let number = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(part.bytes().fold(0u32, |n, d| {
                n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
            }))
        };
        Some(ApiVersion(number(major)?, number(minor)?))
    }
}

/// The version to ask for, given the daemon's `Api-Version` header; and
/// the header, shown safely, when it was there but not a version.
fn negotiate(header: Option<&str>) -> (ApiVersion, Option<String>) {
    match header.map(|text| (text, ApiVersion::parse(text))) {
        None => (FALLBACK_API, None),
        Some((_, Some(theirs))) => (theirs.min(OUR_MAX_API), None),
        Some((text, None)) => {
            let mut shown: String = text.chars().take(40).flat_map(char::escape_debug).collect();
            if text.chars().nth(40).is_some() {
                shown.push('…');
            }
            (FALLBACK_API, Some(shown))
        }
    }
}

/// How far a call has got, kept where the thread waiting for it can read
/// it, so that giving up on the call can still say what happened.
#[derive(Debug)]
struct Progress {
    started: Instant,
    stage: AtomicU8,
    /// Bytes received in answer to the current request.
    received: AtomicU64,
    /// When the last of them arrived, in µs after `started`.
    last_byte_us: AtomicU64,
    /// The current request's path.
    path: Mutex<Option<String>>,
}

/// The steps of a request, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
enum Stage {
    Resolve,
    Connect,
    Send,
    /// Reading the head.
    Receive,
    Body,
    /// The body is in.
    Parse,
}

impl Stage {
    const ALL: [Stage; 6] = [
        Stage::Resolve,
        Stage::Connect,
        Stage::Send,
        Stage::Receive,
        Stage::Body,
        Stage::Parse,
    ];
}

impl Progress {
    fn new() -> Progress {
        Progress {
            started: Instant::now(),
            stage: AtomicU8::new(Stage::Connect as u8),
            received: AtomicU64::new(0),
            last_byte_us: AtomicU64::new(0),
            path: Mutex::new(None),
        }
    }

    fn stage(&self) -> Stage {
        Stage::ALL[usize::from(self.stage.load(Ordering::Relaxed))]
    }

    fn enter(&self, stage: Stage) {
        self.stage.store(stage as u8, Ordering::Relaxed);
    }

    /// A new request on a new connection: nothing received yet.
    fn start_request(&self, path: &str) {
        if let Ok(mut current) = self.path.lock() {
            *current = Some(path.to_owned());
        }
        self.received.store(0, Ordering::Relaxed);
        self.last_byte_us.store(0, Ordering::Relaxed);
    }

    fn got(&self, bytes: usize) {
        self.received.fetch_add(bytes as u64, Ordering::Relaxed);
        let since = self.started.elapsed().as_micros();
        self.last_byte_us
            .store(u64::try_from(since).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn stall(&self, now: Instant) -> Stall {
        let received = self.received.load(Ordering::Relaxed);
        let last_byte =
            self.started + Duration::from_micros(self.last_byte_us.load(Ordering::Relaxed));
        let idle = now.saturating_duration_since(last_byte);
        match self.stage() {
            Stage::Resolve => Stall::Resolve,
            Stage::Connect => Stall::Connect,
            Stage::Send => Stall::Send,
            Stage::Parse => Stall::Parsing { received },
            Stage::Receive | Stage::Body if received == 0 => Stall::Silent,
            Stage::Receive | Stage::Body if idle >= STOPPED_AFTER => {
                Stall::Stopped { received, idle }
            }
            stage => Stall::Arriving {
                received,
                in_body: stage == Stage::Body,
            },
        }
    }

    /// The error for a call given up after `after`, saying where it stood.
    fn timed_out(&self, endpoint: &Endpoint, after: Duration) -> DockerError {
        let path = match self.stage() {
            Stage::Resolve | Stage::Connect => None,
            _ => self.path.lock().ok().and_then(|path| path.clone()),
        };
        DockerError::TimedOut {
            endpoint: endpoint.clone(),
            path,
            after,
            // A read's timeout fires a little late: idle time counts up
            // to the deadline.
            stall: self.stall(Instant::now().min(self.started + after)),
        }
    }
}

/// A listing of every container, running or not, on a thread of its own.
/// Every step of the call ends by its deadline, but a tcp:// host's name
/// lookup is bounded by no socket timeout: whoever waits gives up a little
/// after the deadline, and the thread ends with the process.
pub struct ListCall {
    endpoint: Endpoint,
    timeout: Duration,
    progress: Arc<Progress>,
    answer: mpsc::Receiver<Result<Vec<ContainerInfo>, DockerError>>,
    answered: bool,
}

impl ListCall {
    pub fn start(endpoint: Endpoint, timeout: Duration) -> ListCall {
        let progress = Arc::new(Progress::new());
        let (send, answer) = mpsc::channel();
        let call = (endpoint.clone(), Arc::clone(&progress));
        std::thread::spawn(move || {
            let (endpoint, progress) = call;
            let _ = send.send(list_with(&endpoint, timeout, &progress));
        });
        ListCall {
            endpoint,
            timeout,
            progress,
            answer,
            answered: false,
        }
    }

    /// The call's result, or, `grace` past its deadline, an error saying
    /// where it stood then. Waiting again later takes its result if it has
    /// come meanwhile, without waiting.
    pub fn wait(&mut self, grace: Duration) -> Result<Vec<ContainerInfo>, DockerError> {
        let give_up = self.progress.started + self.timeout + grace;
        match self
            .answer
            .recv_timeout(give_up.saturating_duration_since(Instant::now()))
        {
            Ok(result) => {
                self.answered = true;
                result
            }
            Err(_) => Err(self
                .progress
                .timed_out(&self.endpoint, self.timeout + grace)),
        }
    }

    /// Whether its thread may still be blocked (a daemon that stopped
    /// answering, a name lookup): then a new call would only add another.
    pub fn is_pending(&self) -> bool {
        !self.answered
    }
}

/// Lists every container, running or not. The whole call, both requests
/// included, ends within `timeout`, but for a tcp:// host's name lookup.
#[cfg(any(test, fuzzing))]
pub fn list_containers(
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<Vec<ContainerInfo>, DockerError> {
    list_with(endpoint, timeout, &Progress::new())
}

fn list_with(
    endpoint: &Endpoint,
    timeout: Duration,
    progress: &Progress,
) -> Result<Vec<ContainerInfo>, DockerError> {
    let call = Call {
        endpoint,
        timeout,
        deadline: progress.started + timeout,
        progress,
    };
    let ping = call.request("/_ping")?;
    // Taken whatever the status: the daemon's middleware sets the header on
    // every answer, errors included. The ping's body ("OK") is not read.
    let (version, unusable_version) = negotiate(ping.header("Api-Version"));
    drop(ping);
    let path = format!("/v{}.{}/containers/json?all=1", version.0, version.1);
    let mut response = call.request(&path)?;
    if response.status != 200 {
        let body = response
            .body
            .read_up_to(ERROR_BODY_BYTES)
            .unwrap_or_else(|error| format!("(the body cannot be read: {error})").into_bytes());
        return Err(DockerError::Status {
            endpoint: endpoint.clone(),
            path,
            status: response.status,
            message: error_message(&body),
            unusable_version,
        });
    }
    progress.enter(Stage::Body);
    read_list(&mut response.body, progress).map_err(|failure| match failure {
        ListFailure::Http(error) => call.http_error(&path, error),
        ListFailure::List(error) => DockerError::BadJson {
            endpoint: endpoint.clone(),
            path,
            error,
        },
    })
}

/// One call's endpoint, deadline and progress.
struct Call<'a> {
    endpoint: &'a Endpoint,
    timeout: Duration,
    deadline: Instant,
    progress: &'a Progress,
}

impl<'a> Call<'a> {
    /// One request on a connection of its own (we send `Connection:
    /// close`), its head read.
    fn request(&self, path: &str) -> Result<http::Response<Connection<'a>>, DockerError> {
        self.progress.start_request(path);
        let connection =
            Connection::open(self.endpoint, self.deadline, self.progress).map_err(|error| {
                if error.kind() == io::ErrorKind::TimedOut {
                    self.progress.timed_out(self.endpoint, self.timeout)
                } else {
                    DockerError::Connect {
                        endpoint: self.endpoint.clone(),
                        error,
                    }
                }
            })?;
        // The Docker client sends this placeholder host for a Unix socket
        // (moby `client.DummyHost`); a socket path there gets a 400.
        let host = match self.endpoint {
            Endpoint::Unix(_) | Endpoint::UnixInRoot(_) => "api.moby.localhost",
            Endpoint::Tcp(address) => address,
        };
        self.progress.enter(Stage::Send);
        http::get(connection, host, path, MAX_RESPONSE_BYTES)
            .map_err(|error| self.http_error(path, error))
    }

    fn http_error(&self, path: &str, error: HttpError) -> DockerError {
        if error.is_timeout() {
            self.progress.timed_out(self.endpoint, self.timeout)
        } else {
            DockerError::Http {
                endpoint: self.endpoint.clone(),
                path: path.to_owned(),
                error,
            }
        }
    }
}

enum Socket {
    Unix(UnixStream),
    Tcp(TcpStream),
}

/// A socket whose every read and write must finish by one deadline, so a
/// daemon that drips bytes cannot stretch the call past its timeout.
struct Connection<'a> {
    socket: Socket,
    deadline: Instant,
    progress: &'a Progress,
}

impl<'a> Connection<'a> {
    fn open(
        endpoint: &Endpoint,
        deadline: Instant,
        progress: &'a Progress,
    ) -> io::Result<Connection<'a>> {
        let socket = match endpoint {
            Endpoint::Unix(path) => {
                progress.enter(Stage::Connect);
                Socket::Unix(connect_unix(path, deadline)?)
            }
            Endpoint::UnixInRoot(socket) => {
                progress.enter(Stage::Connect);
                let path = PathBuf::from(format!("/proc/self/fd/{}", socket.handle.as_raw_fd()));
                Socket::Unix(connect_unix(&path, deadline)?)
            }
            Endpoint::Tcp(address) => Socket::Tcp(connect_tcp(address, deadline, progress)?),
        };
        Ok(Connection {
            socket,
            deadline,
            progress,
        })
    }
}

/// connect(2) to a Unix socket, by the deadline. When the daemon's accept
/// backlog is full, connect waits for room, bounded by no socket timeout
/// std lets one set beforehand; but Linux bounds that wait by the socket's
/// send timeout (`unix_stream_connect`), then fails with EAGAIN.
fn connect_unix(path: &Path, deadline: Instant) -> io::Result<UnixStream> {
    // SAFETY: sockaddr_un is plain data, for which all zeroes is valid.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= address.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the socket path is too long or holds a NUL byte",
        ));
    }
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (to, from) in address.sun_path.iter_mut().zip(bytes) {
        *to = *from as libc::c_char;
    }
    // SAFETY: plain socket(2); the descriptor is owned from here on.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let length = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    by_deadline(deadline, |wait| {
        let timeout = libc::timeval {
            tv_sec: wait.as_secs().try_into().unwrap_or(i32::MAX.into()),
            // A zero timeval means no timeout: at least one µs.
            tv_usec: wait
                .subsec_micros()
                .max(u32::from(wait.as_secs() == 0))
                .into(),
        };
        // SAFETY: `timeout` is a valid timeval, of the length given.
        let set = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if set != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `address` is a valid sockaddr_un, `length` within it.
        let connected = unsafe {
            libc::connect(
                socket.as_raw_fd(),
                (&address as *const libc::sockaddr_un).cast(),
                length as libc::socklen_t,
            )
        };
        match connected {
            0 => Ok(()),
            // A Unix socket's connect only waited for room in the backlog
            // (EAGAIN once the send timeout passed, EINTR on a signal):
            // no half-made connection stands in the way of trying again.
            _ => match io::Error::last_os_error() {
                e if e.kind() == io::ErrorKind::Interrupted => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                e => Err(e),
            },
        }
    })?;
    Ok(UnixStream::from(socket))
}

/// Tries each address the name resolves to, as the Docker client does.
fn connect_tcp(address: &str, deadline: Instant, progress: &Progress) -> io::Result<TcpStream> {
    progress.enter(Stage::Resolve);
    let candidates = address.to_socket_addrs()?;
    progress.enter(Stage::Connect);
    let mut last_error = io::Error::other("the host name has no address");
    for candidate in candidates {
        match TcpStream::connect_timeout(&candidate, time_left(deadline)?) {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

/// The time until `deadline`, or a TimedOut error once it has passed (a
/// zero socket timeout would mean "wait forever").
fn time_left(deadline: Instant) -> io::Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
        .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))
}

/// The longest single wait on a socket. Linux rounds a timeout up to its
/// timer wheel's granularity, which grows with the timeout (256 ms for 5 s
/// at HZ=250, 512 ms at HZ=1000): waits of at most this long, repeated up
/// to the deadline, keep it within a few ms.
const WAIT_SLICE: Duration = Duration::from_millis(250);

/// Runs `wait` with the time left before `deadline`, at most a
/// [`WAIT_SLICE`] at a time, until it does not time out or the deadline
/// passes (then a TimedOut error).
fn by_deadline<T>(
    deadline: Instant,
    mut wait: impl FnMut(Duration) -> io::Result<T>,
) -> io::Result<T> {
    loop {
        let left = time_left(deadline)?;
        match wait(left.min(WAIT_SLICE)) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            other => return other,
        }
    }
}

impl Read for Connection<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Reading means the request is out.
        if self.progress.stage() == Stage::Send {
            self.progress.enter(Stage::Receive);
        }
        let socket = &mut self.socket;
        let n = by_deadline(self.deadline, |wait| match socket {
            Socket::Unix(s) => s.set_read_timeout(Some(wait)).and_then(|()| s.read(buf)),
            Socket::Tcp(s) => s.set_read_timeout(Some(wait)).and_then(|()| s.read(buf)),
        })?;
        if n > 0 {
            self.progress.got(n);
        }
        Ok(n)
    }
}

impl Write for Connection<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let socket = &self.socket;
        by_deadline(self.deadline, |wait| {
            let fd = match socket {
                Socket::Unix(s) => s.set_write_timeout(Some(wait)).map(|()| s.as_raw_fd())?,
                Socket::Tcp(s) => s.set_write_timeout(Some(wait)).map(|()| s.as_raw_fd())?,
            };
            // send(2) with MSG_NOSIGNAL rather than write(2): a daemon that
            // has closed must give EPIPE, never a SIGPIPE, whatever the
            // process's signal disposition. SAFETY: `buf` is valid for
            // `buf.len()` bytes, and `fd` is open for as long as `socket`.
            let sent =
                unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
            usize::try_from(sent).map_err(|_| io::Error::last_os_error())
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The `message` of a Docker error body (`{"message":"…"}`), else the
/// start of the body; one line either way.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: String,
    }
    let text = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(error) => error.message,
        Err(_) if body.is_empty() => return "(empty body)".to_owned(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    const MAX_CHARS: usize = 200;
    let mut line = String::new();
    let mut chars = text.trim().chars();
    for c in chars.by_ref().take(MAX_CHARS) {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    if chars.next().is_some() {
        line.push('…');
    }
    line
}

/// Why a `/containers/json` body is not a list cnetstat takes; `at` is the
/// byte of the body where it went wrong.
#[derive(Debug)]
pub struct ListError {
    at: u64,
    kind: ListErrorKind,
}

#[derive(Debug)]
enum ListErrorKind {
    /// `expected` at `at`, but `found` (None: the body ended).
    Expected {
        expected: &'static str,
        found: Option<u8>,
    },
    NotAnObject {
        entry: usize,
    },
    TooDeep {
        entry: usize,
    },
    EntryTooLong {
        entry: usize,
    },
    Entry {
        entry: usize,
        error: serde_json::Error,
    },
    TooMany,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at;
        match &self.kind {
            ListErrorKind::Expected { expected, found } => {
                write!(
                    f,
                    "not a container list: expected {expected} at byte {at}, found "
                )?;
                match found {
                    None => f.write_str("the end of the body"),
                    Some(b) if b.is_ascii_graphic() => write!(f, "`{}`", char::from(*b)),
                    Some(b) => write!(f, "byte 0x{b:02x}"),
                }
            }
            ListErrorKind::NotAnObject { entry } => write!(
                f,
                "not a container list: entry {entry} at byte {at} is not an object"
            ),
            ListErrorKind::TooDeep { entry } => write!(
                f,
                "not a container list: entry {entry} nests deeper than {MAX_DEPTH} levels \
                 at byte {at}"
            ),
            ListErrorKind::EntryTooLong { entry } => write!(
                f,
                "entry {entry} at byte {at} of the list is longer than {}",
                size(MAX_ENTRY_BYTES as u64)
            ),
            ListErrorKind::Entry { entry, error } => {
                write!(
                    f,
                    "not a container list: entry {entry} at byte {at}: {error}"
                )
            }
            ListErrorKind::TooMany => write!(
                f,
                "the list holds more than {MAX_CONTAINERS} containers, more than cnetstat keeps \
                 (stopped at byte {at})"
            ),
        }
    }
}

impl std::error::Error for ListError {}

/// Parses a whole `/containers/json` body.
#[cfg(any(test, fuzzing))]
pub fn parse_containers(body: &[u8]) -> Result<Vec<ContainerInfo>, ListError> {
    parse_in_pieces(body, &[])
}

/// Feeds `body` to the list parser in pieces cut at `cuts` (ascending, at
/// most `body.len()`), as it may arrive.
#[cfg(any(test, fuzzing))]
pub fn parse_in_pieces(body: &[u8], cuts: &[usize]) -> Result<Vec<ContainerInfo>, ListError> {
    let mut list = ListParser::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&body.len()]) {
        list.feed(&body[start..cut])?;
        start = cut;
    }
    list.finish()
}

enum ListFailure {
    Http(HttpError),
    List(ListError),
}

/// Parses the list as its body arrives.
fn read_list<S: Read>(
    body: &mut http::Body<S>,
    progress: &Progress,
) -> Result<Vec<ContainerInfo>, ListFailure> {
    let mut list = ListParser::new();
    loop {
        let piece = body.next_piece().map_err(ListFailure::Http)?;
        if piece.is_empty() {
            progress.enter(Stage::Parse);
            return list.finish().map_err(ListFailure::List);
        }
        list.feed(piece).map_err(ListFailure::List)?;
    }
}

/// Where the list's outer array stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outer {
    /// Before its `[`.
    Start,
    /// After `[`: an entry or `]`.
    FirstOrEnd,
    /// After `,`: an entry.
    Next,
    /// After an entry: `,` or `]`.
    CommaOrEnd,
    /// Inside an entry.
    InEntry,
    /// After `]`.
    End,
}

/// Cuts the list's array into entries as its bytes arrive, tracking only
/// strings, escapes and nesting (so in time linear in the bytes, and in
/// memory bounded by [`MAX_ENTRY_BYTES`]), and turns each whole entry into
/// a [`ContainerInfo`] at once.
struct ListParser {
    outer: Outer,
    /// Bytes fed before the current piece.
    offset: u64,
    /// Entries begun so far; the current one's number.
    entries: usize,
    /// Where the current entry began.
    entry_at: u64,
    /// The current entry's bytes from earlier pieces.
    partial: Vec<u8>,
    depth: u32,
    in_string: bool,
    /// The last piece ended on a backslash inside a string.
    escaped: bool,
    containers: Vec<ContainerInfo>,
}

/// Where a string's next `"` or `\` is in `bytes`. Most strings of a
/// list are short: their first bytes are looked at one by one, as memchr2
/// costs more to set up than that (tenfold in a debug build).
fn string_stop(bytes: &[u8]) -> Option<usize> {
    const SHORT: usize = 16;
    let head = &bytes[..bytes.len().min(SHORT)];
    if let Some(at) = head.iter().position(|&b| b == b'"' || b == b'\\') {
        return Some(at);
    }
    let tail = bytes.get(SHORT..)?;
    memchr2(b'"', b'\\', tail).map(|at| SHORT + at)
}

fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl ListParser {
    fn new() -> ListParser {
        ListParser {
            outer: Outer::Start,
            offset: 0,
            entries: 0,
            entry_at: 0,
            partial: Vec::new(),
            depth: 0,
            in_string: false,
            escaped: false,
            containers: Vec::new(),
        }
    }

    fn error(&self, at: u64, kind: ListErrorKind) -> ListError {
        ListError { at, kind }
    }

    fn feed(&mut self, piece: &[u8]) -> Result<(), ListError> {
        let mut i = 0;
        // Where the current entry's bytes begin in this piece.
        let mut entry_start = 0;
        while i < piece.len() {
            if self.outer == Outer::InEntry {
                match self.scan_entry(&piece[i..], self.offset + i as u64)? {
                    Some(length) => {
                        let end = i + length;
                        self.finish_entry(&piece[entry_start..end])?;
                        self.outer = Outer::CommaOrEnd;
                        i = end;
                    }
                    None => {
                        let rest = &piece[entry_start..];
                        if self.partial.len() + rest.len() > MAX_ENTRY_BYTES {
                            let entry = self.entries;
                            return Err(
                                self.error(self.entry_at, ListErrorKind::EntryTooLong { entry })
                            );
                        }
                        self.partial.extend_from_slice(rest);
                        i = piece.len();
                    }
                }
                continue;
            }
            let b = piece[i];
            let at = self.offset + i as u64;
            i += 1;
            if is_json_space(b) {
                continue;
            }
            let expected = match (self.outer, b) {
                (Outer::Start, b'[') => {
                    self.outer = Outer::FirstOrEnd;
                    continue;
                }
                (Outer::FirstOrEnd | Outer::CommaOrEnd, b']') => {
                    self.outer = Outer::End;
                    continue;
                }
                (Outer::CommaOrEnd, b',') => {
                    self.outer = Outer::Next;
                    continue;
                }
                (Outer::FirstOrEnd | Outer::Next, b'{') => {
                    self.entries += 1;
                    self.entry_at = at;
                    self.outer = Outer::InEntry;
                    (self.depth, self.in_string, self.escaped) = (1, false, false);
                    entry_start = i - 1;
                    if i == piece.len() {
                        // The piece ends on the `{`: keep it for the next.
                        self.partial.push(b'{');
                    }
                    continue;
                }
                (Outer::FirstOrEnd | Outer::Next, _) => {
                    let entry = self.entries + 1;
                    return Err(self.error(at, ListErrorKind::NotAnObject { entry }));
                }
                (Outer::Start, _) => "`[`",
                (Outer::CommaOrEnd, _) => "`,` or `]`",
                (Outer::End, _) => "the end of the body",
                (Outer::InEntry, _) => unreachable!("entries are scanned above"),
            };
            return Err(self.error(
                at,
                ListErrorKind::Expected {
                    expected,
                    found: Some(b),
                },
            ));
        }
        self.offset += piece.len() as u64;
        Ok(())
    }

    /// Scans an entry's bytes (`at` is the first one's offset): the length
    /// up to and including its closing `}`, or None if it goes on.
    fn scan_entry(&mut self, bytes: &[u8], at: u64) -> Result<Option<usize>, ListError> {
        let mut i = 0;
        if self.escaped {
            // The escaped byte (the rest of a `\u` escape is plain).
            self.escaped = false;
            i = 1;
        }
        while i < bytes.len() {
            if self.in_string {
                match string_stop(&bytes[i..]) {
                    None => return Ok(None),
                    Some(found) if bytes[i + found] == b'\\' => {
                        i += found + 2;
                        if i > bytes.len() {
                            self.escaped = true;
                            return Ok(None);
                        }
                    }
                    Some(found) => {
                        self.in_string = false;
                        i += found + 1;
                    }
                }
                continue;
            }
            match bytes[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        let entry = self.entries;
                        return Err(self.error(at + i as u64, ListErrorKind::TooDeep { entry }));
                    }
                }
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Ok(Some(i + 1));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Ok(None)
    }

    /// Parses a whole entry: its bytes in `partial`, then `tail`.
    fn finish_entry(&mut self, tail: &[u8]) -> Result<(), ListError> {
        let entry = self.entries;
        let at = self.entry_at;
        if self.partial.len() + tail.len() > MAX_ENTRY_BYTES {
            return Err(self.error(at, ListErrorKind::EntryTooLong { entry }));
        }
        let parsed = if self.partial.is_empty() {
            serde_json::from_slice::<Entry>(tail).map(container_info)
        } else {
            self.partial.extend_from_slice(tail);
            let parsed = serde_json::from_slice::<Entry>(&self.partial).map(container_info);
            self.partial.clear();
            parsed
        };
        match parsed {
            Ok(Some(container)) => {
                if self.containers.len() == MAX_CONTAINERS {
                    return Err(self.error(at, ListErrorKind::TooMany));
                }
                self.containers.push(container);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(error) => Err(self.error(at, ListErrorKind::Entry { entry, error })),
        }
    }

    fn finish(mut self) -> Result<Vec<ContainerInfo>, ListError> {
        if self.outer != Outer::End {
            let expected = match self.outer {
                Outer::Start => "`[`",
                Outer::FirstOrEnd | Outer::CommaOrEnd => "`,` or `]`",
                Outer::Next => "an entry",
                Outer::InEntry => "the rest of the entry",
                Outer::End => unreachable!(),
            };
            return Err(self.error(
                self.offset,
                ListErrorKind::Expected {
                    expected,
                    found: None,
                },
            ));
        }
        self.containers.shrink_to_fit();
        Ok(self.containers)
    }
}

/// A string of an entry, borrowed from its bytes unless it held escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Which of a map's keys matter; the others are skipped unread.
macro_rules! keys {
    ($name:ident { $($variant:ident = $key:expr),* $(,)? }) => {
        enum $name { $($variant,)* Other }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct KeyVisitor;
                impl Visitor<'_> for KeyVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a key")
                    }
                    fn visit_str<E>(self, key: &str) -> Result<$name, E> {
                        Ok(match key {
                            $(k if k == $key => $name::$variant,)*
                            _ => $name::Other,
                        })
                    }
                }
                deserializer.deserialize_identifier(KeyVisitor)
            }
        }
    };
}

keys!(Field { Id = "Id", Names = "Names", Labels = "Labels" });
keys!(LabelKey {
    Namespace = POD_NAMESPACE_LABEL,
    Pod = POD_NAME_LABEL,
    Uid = POD_UID_LABEL,
    Container = CONTAINER_NAME_LABEL,
    DockerType = DOCKER_TYPE_LABEL,
});

/// What names a container in a `/containers/json` entry; the rest of the
/// entry is skipped.
struct Entry<'a> {
    id: Text<'a>,
    /// The container's own name, as listed (with its leading `/`).
    name: Option<Text<'a>>,
    labels: Labels<'a>,
}

#[derive(Default)]
struct Labels<'a> {
    namespace: Option<Text<'a>>,
    pod: Option<Text<'a>>,
    uid: Option<Text<'a>>,
    container: Option<Text<'a>>,
    docker_type: Option<Text<'a>>,
}

impl<'de> Deserialize<'de> for Entry<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = Entry<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a container summary")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Entry<'de>, M::Error> {
                let (mut id, mut name, mut labels) = (None, None, Labels::default());
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Id => id = Some(map.next_value()?),
                        Field::Names => {
                            name = map.next_value::<Option<PrimaryName>>()?.and_then(|n| n.0)
                        }
                        Field::Labels => {
                            labels = map.next_value::<Option<Labels>>()?.unwrap_or_default()
                        }
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let id = id.ok_or_else(|| de::Error::missing_field("Id"))?;
                Ok(Entry { id, name, labels })
            }
        }
        deserializer.deserialize_map(EntryVisitor)
    }
}

impl<'de> Deserialize<'de> for Labels<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LabelsVisitor;
        impl<'de> Visitor<'de> for LabelsVisitor {
            type Value = Labels<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of labels")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Labels<'de>, M::Error> {
                let mut labels = Labels::default();
                while let Some(key) = map.next_key::<LabelKey>()? {
                    let slot = match key {
                        LabelKey::Namespace => &mut labels.namespace,
                        LabelKey::Pod => &mut labels.pod,
                        LabelKey::Uid => &mut labels.uid,
                        LabelKey::Container => &mut labels.container,
                        LabelKey::DockerType => &mut labels.docker_type,
                        LabelKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value()?);
                }
                Ok(labels)
            }
        }
        deserializer.deserialize_map(LabelsVisitor)
    }
}

/// Of a container's `Names`, its own (see [`unslashed`]); the rest are
/// skipped.
struct PrimaryName<'a>(Option<Text<'a>>);

impl<'de> Deserialize<'de> for PrimaryName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamesVisitor;
        impl<'de> Visitor<'de> for NamesVisitor {
            type Value = PrimaryName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of names")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<PrimaryName<'de>, A::Error> {
                let mut first: Option<Text> = None;
                while let Some(name) = seq.next_element::<Text>()? {
                    if !unslashed(&name.0).contains('/') {
                        while seq.next_element::<IgnoredAny>()?.is_some() {}
                        return Ok(PrimaryName(Some(name)));
                    }
                    first.get_or_insert(name);
                }
                Ok(PrimaryName(first))
            }
        }
        deserializer.deserialize_seq(NamesVisitor)
    }
}

/// dockershim's and cri-dockerd's mark on a pod's sandbox container.
const DOCKER_TYPE_LABEL: &str = "io.kubernetes.docker.type";

/// The catalog's form of an entry; None for an id too long to be one.
fn container_info(entry: Entry<'_>) -> Option<ContainerInfo> {
    fn kept<'t>(text: &'t Option<Text<'_>>) -> Option<&'t str> {
        text.as_ref()
            .map(|text| &*text.0)
            .filter(|text| text.len() <= MAX_KEPT_BYTES)
    }
    let id = Some(entry.id);
    let id = kept(&id)?.to_owned();
    let labels = &entry.labels;
    let docker_name = kept(&entry.name).map(unslashed);
    let sandbox_label = kept(&labels.docker_type) == Some("podsandbox");
    let pod_from_labels = labelled_pod(
        kept(&labels.namespace),
        kept(&labels.pod),
        kept(&labels.uid),
    );
    let container_label = kept(&labels.container);

    let (name, pod, sandbox) = if pod_from_labels.is_some() || container_label.is_some() {
        let name = container_label
            .or(sandbox_label.then_some(SANDBOX_NAME))
            .or(docker_name);
        (name.map(str::to_owned), pod_from_labels, sandbox_label)
    } else if let Some(shim) = docker_name.and_then(DockershimName::parse) {
        let pod = PodInfo {
            namespace: shim.namespace.to_owned(),
            name: shim.pod.to_owned(),
            uid: Some(shim.uid.to_owned()),
        };
        let sandbox = sandbox_label || shim.container == SANDBOX_NAME;
        (Some(shim.container.to_owned()), Some(pod), sandbox)
    } else {
        (docker_name.map(str::to_owned), None, sandbox_label)
    };
    Some(ContainerInfo {
        runtime: Some(Runtime::Docker),
        name,
        pod,
        sandbox,
        ..ContainerInfo::unnamed(id)
    })
}

/// A name as Docker lists it, without its leading `/`. Docker also lists
/// legacy link aliases (`/other/alias`), which hold a second `/`: the
/// container's own name is the first without one, else the first.
fn unslashed(name: &str) -> &str {
    name.strip_prefix('/').unwrap_or(name)
}

/// `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>[_<random>]`: no field
/// can hold `_`, as Kubernetes names and UIDs never do (cri-dockerd
/// `parseContainerName`).
struct DockershimName<'a> {
    container: &'a str,
    pod: &'a str,
    namespace: &'a str,
    uid: &'a str,
}

impl<'a> DockershimName<'a> {
    fn parse(name: &'a str) -> Option<DockershimName<'a>> {
        let parts: Vec<&str> = name.split('_').collect();
        match parts[..] {
            ["k8s", container, pod, namespace, uid, attempt, ..]
                if parts.len() <= 7
                    && parts.iter().all(|part| !part.is_empty())
                    && attempt.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Some(DockershimName {
                    container,
                    pod,
                    namespace,
                    uid,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "../../tests/common/fake_docker.rs"]
mod fake_docker;

#[cfg(test)]
mod tests {
    use super::fake_docker::{Behavior, FakeDocker, FullBacklog};
    use super::*;
    use std::path::Path;
    use std::process::Command;
    use std::sync::atomic::AtomicBool;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/testdata/docker/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The body of a recorded response (framing decoded).
    fn fixture_body(name: &str) -> Vec<u8> {
        struct Replay(io::Cursor<Vec<u8>>);
        impl Read for Replay {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0.read(buf)
            }
        }
        impl Write for Replay {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let replay = Replay(io::Cursor::new(fixture(name)));
        http::get(replay, "h", "/", MAX_RESPONSE_BYTES)
            .unwrap()
            .body
            .read_to_end()
            .unwrap()
    }

    const SHOP_POD_UID: &str = "3f2a9c1e-5b7d-4e8a-9c01-2b3d4e5f6a7b";

    fn shop_pod() -> Option<PodInfo> {
        Some(PodInfo {
            namespace: "shop".into(),
            name: "web-7d9c5b6f4-x2kqp".into(),
            uid: Some(SHOP_POD_UID.into()),
        })
    }

    fn docker_container(
        id: &str,
        name: &str,
        pod: Option<PodInfo>,
        sandbox: bool,
    ) -> ContainerInfo {
        ContainerInfo {
            runtime: Some(Runtime::Docker),
            name: Some(name.into()),
            pod,
            sandbox,
            ..ContainerInfo::unnamed(id.into())
        }
    }

    /// What `record.py` created, as read off `containers-chunked.http`.
    fn recorded_containers() -> Vec<ContainerInfo> {
        vec![
            // Unlabelled, but named the dockershim way (with the random suffix).
            docker_container(
                "c7ac75d0743a5f18ceda40ab260ce148739beeb57fe038e9d7e82320351904a3",
                "redis",
                Some(PodInfo {
                    namespace: "db".into(),
                    name: "cache-0".into(),
                    uid: Some("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".into()),
                }),
                false,
            ),
            docker_container(
                "0d7aeacbcb2df58014b2335635e68106c2418b1be3c0a737b31a37f0a3f028c3",
                "nginx",
                shop_pod(),
                false,
            ),
            docker_container(
                "3d960680edec2a06be55d1c20479203638a46b3050e04f1be0f7f6d25c65b8f2",
                "POD",
                shop_pod(),
                true,
            ),
            docker_container(
                "ddcf56ea26b417ee031b665d177169c796c4cc955afe56e92cfe1ba4f3695ba8",
                "standalone",
                None,
                false,
            ),
        ]
    }

    #[test]
    fn names_recorded_containers() {
        let containers = parse_containers(&fixture_body("containers-chunked.http")).unwrap();
        assert_eq!(containers, recorded_containers());
        // The same list, framed to end at close.
        let containers = parse_containers(&fixture_body("containers-http10.http")).unwrap();
        assert_eq!(containers, recorded_containers());
        let containers = parse_containers(&fixture_body("containers-small.http")).unwrap();
        assert_eq!(containers, recorded_containers()[3..]);
    }

    fn parse_one(json: &str) -> ContainerInfo {
        let mut containers = parse_containers(json.as_bytes()).unwrap();
        assert_eq!(containers.len(), 1, "{json}");
        containers.remove(0)
    }

    #[test]
    fn labels_win_over_the_docker_name() {
        let info = parse_one(
            r#"[{"Id":"a","Names":["/k8s_x_p_ns_u_0"],"Labels":{
                "io.kubernetes.pod.namespace":"kube-system",
                "io.kubernetes.pod.name":"coredns-1",
                "io.kubernetes.container.name":"coredns"}}]"#,
        );
        assert_eq!(info.name.as_deref(), Some("coredns"));
        let pod = info.pod.unwrap();
        assert_eq!(
            (pod.namespace.as_str(), pod.name.as_str()),
            ("kube-system", "coredns-1")
        );
        assert_eq!(pod.uid, None);
        assert!(!info.sandbox);
    }

    #[test]
    fn a_sandbox_label_without_a_container_name_is_pod() {
        let info = parse_one(
            r#"[{"Id":"a","Names":["/pause"],"Labels":{
                "io.kubernetes.docker.type":"podsandbox",
                "io.kubernetes.pod.namespace":"ns","io.kubernetes.pod.name":"p"}}]"#,
        );
        assert_eq!(info.name.as_deref(), Some("POD"));
        assert!(info.sandbox);
    }

    #[test]
    fn dockershim_names_without_labels() {
        let info =
            parse_one(r#"[{"Id":"a","Names":["/k8s_POD_web-0_prod_0123-ab_3"],"Labels":null}]"#);
        assert_eq!(info.name.as_deref(), Some("POD"));
        assert!(info.sandbox);
        assert_eq!(
            info.pod,
            Some(PodInfo {
                namespace: "prod".into(),
                name: "web-0".into(),
                uid: Some("0123-ab".into())
            })
        );
        // Not the dockershim shape: too few or many fields, a non-numeric
        // attempt, an empty field, another prefix.
        for name in [
            "k8s_app_web-0_prod_0123_",
            "k8s_app_web-0_prod_0123",
            "k8s_app_web-0_prod_0123_0_abc_extra",
            "k8s_app_web-0_prod_0123_first",
            "k8s_app__prod_0123_0",
            "k8z_app_web-0_prod_0123_0",
        ] {
            let info = parse_one(&format!(r#"[{{"Id":"a","Names":["/{name}"]}}]"#));
            assert_eq!(info.name.as_deref(), Some(name));
            assert_eq!(info.pod, None);
            assert!(!info.sandbox);
        }
    }

    #[test]
    fn link_aliases_are_not_the_name() {
        let info = parse_one(r#"[{"Id":"a","Names":["/web/db","/db"],"Labels":{}}]"#);
        assert_eq!(info.name.as_deref(), Some("db"));
        let info = parse_one(r#"[{"Id":"a","Names":null}]"#);
        assert_eq!((info.name, info.pod, info.sandbox), (None, None, false));
    }

    #[test]
    fn refuses_json_that_is_not_a_container_list() {
        for (body, message) in [
            (&b""[..], "expected `[` at byte 0, found the end of the body"),
            (b"{}", "expected `[` at byte 0, found `{`"),
            (
                b"[{\"Names\":[]}]",
                "entry 1 at byte 1: missing field `Id` at line 1 column 12",
            ),
            (
                b"[{\"Id\":7}]",
                "entry 1 at byte 1: invalid type: integer `7`, expected a string at line 1 column 7",
            ),
            (b"OK", "expected `[` at byte 0, found `O`"),
            (
                b"[{\"Id\":\"a\"}",
                "expected `,` or `]` at byte 11, found the end of the body",
            ),
            (
                b"[{\"Id\":\"a\"",
                "expected the rest of the entry at byte 10, found the end of the body",
            ),
            (
                b"[{\"Id\":\"a\"},",
                "expected an entry at byte 12, found the end of the body",
            ),
            (b"[{\"Id\":\"a\"},]", "entry 2 at byte 12 is not an object"),
            (
                b"[{\"Id\":\"a\"}{\"Id\":\"b\"}]",
                "expected `,` or `]` at byte 11, found `{`",
            ),
            (b"[\"a\"]", "entry 1 at byte 1 is not an object"),
            (b"[] []", "expected the end of the body at byte 3, found `[`"),
            (b"\xff", "expected `[` at byte 0, found byte 0xff"),
            (
                b"[{\"Id\":\"a\"]",
                "entry 1 at byte 1: expected `,` or `}` at line 1 column 10",
            ),
        ] {
            let e = parse_containers(body).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("not a container list: {message}"),
                "{}",
                body.escape_ascii()
            );
        }
        assert_eq!(parse_containers(b" [ ]\n").unwrap(), vec![]);
    }

    #[test]
    fn entries_split_anywhere_parse_the_same() {
        let tricky = br#"[
            {"Id":"a\"}{[","Names":["/x\\","/y"],"Labels":{"k}":"]\"","io.kubernetes.container.name":"caf\u00e9"}},
            {"Image":"{[[","Id":"b","Names":null,"Labels":null,"Ports":[{"x":[[[]]]}]}
        ]"#;
        let expected = vec![
            ContainerInfo {
                runtime: Some(Runtime::Docker),
                name: Some("café".into()),
                ..ContainerInfo::unnamed("a\"}{[".into())
            },
            ContainerInfo {
                runtime: Some(Runtime::Docker),
                ..ContainerInfo::unnamed("b".into())
            },
        ];
        assert_eq!(parse_containers(tricky).unwrap(), expected);
        let recorded = fixture_body("containers-chunked.http");
        for (body, expected) in [(&tricky[..], expected), (&recorded, recorded_containers())] {
            for cut in 0..=body.len() {
                assert_eq!(
                    parse_in_pieces(body, &[cut]).unwrap(),
                    expected,
                    "cut at {cut}"
                );
            }
            let every_byte: Vec<usize> = (1..body.len()).collect();
            assert_eq!(parse_in_pieces(body, &every_byte).unwrap(), expected);
        }
    }

    #[test]
    fn only_the_names_and_labels_used_are_kept() {
        // Many labels and names, of every JSON type, none kept but the two.
        let mut labels: Vec<String> = (0..1000).map(|i| format!(r#""l{i}":"{i}""#)).collect();
        labels.push(r#""io.kubernetes.pod.namespace":"ns""#.into());
        labels.push(r#""io.kubernetes.pod.name":"p""#.into());
        let names: Vec<String> = (0..1000).map(|i| format!(r#""/a{i}/alias""#)).collect();
        let body = format!(
            r#"[{{"Names":[{},"/own","/later"],"Labels":{{{}}},"Id":"x","Other":[1,2.5,true,null,{{}}]}}]"#,
            names.join(","),
            labels.join(",")
        );
        let info = parse_one(&body);
        assert_eq!(info.name.as_deref(), Some("own"));
        let pod = info.pod.unwrap();
        assert_eq!((pod.namespace.as_str(), pod.name.as_str()), ("ns", "p"));
        // Label values are strings; other labels' values are not looked at.
        assert!(
            parse_containers(br#"[{"Id":"a","Labels":{"io.kubernetes.pod.name":1}}]"#).is_err()
        );
        assert!(parse_containers(br#"[{"Id":"a","Labels":{"other":1}}]"#).is_ok());
    }

    #[test]
    fn over_long_strings_are_not_kept() {
        let long = "x".repeat(MAX_KEPT_BYTES + 1);
        let fits = "y".repeat(MAX_KEPT_BYTES);
        // An id that long cannot be a container's: the entry is skipped.
        let body = format!(r#"[{{"Id":"{long}"}},{{"Id":"{fits}","Names":["/{long}"]}}]"#);
        let containers = parse_containers(body.as_bytes()).unwrap();
        assert_eq!(containers.len(), 1);
        assert_eq!(
            (containers[0].id.as_str(), &containers[0].name),
            (fits.as_str(), &None)
        );
        let body = format!(
            r#"[{{"Id":"a","Names":["/n"],"Labels":{{"io.kubernetes.pod.namespace":"{long}","io.kubernetes.pod.name":"p"}}}}]"#
        );
        let info = parse_one(&body);
        assert_eq!((info.name.as_deref(), info.pod), (Some("n"), None));
    }

    #[test]
    fn nesting_entry_size_and_count_are_bounded() {
        let nested = |depth: usize| {
            let open = "[".repeat(depth - 1);
            let close = "]".repeat(depth - 1);
            format!(r#"[{{"Id":"a","X":{open}{close}}}]"#)
        };
        assert!(parse_containers(nested(MAX_DEPTH as usize).as_bytes()).is_ok());
        let e = parse_containers(nested(MAX_DEPTH as usize + 1).as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a container list: entry 1 nests deeper than 64 levels at byte 78"
        );
        // 100 000 `[` fail at the 64th, not at the end.
        let deep = format!(r#"[{{"Id":"a","X":{}"#, "[".repeat(100_000));
        let e = parse_containers(deep.as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("nests deeper than 64 levels at byte 78"),
            "{e}"
        );

        let padding = "p".repeat(MAX_ENTRY_BYTES - 20);
        let fits = format!(r#"[{{"Id":"a","P":"{padding}"}}]"#);
        assert_eq!(fits.len() - 2, MAX_ENTRY_BYTES - 20 + 17);
        assert_eq!(
            parse_in_pieces(fits.as_bytes(), &[100, 1 << 20])
                .unwrap()
                .len(),
            1
        );
        let too_long = format!(r#"[{{"Id":"a","P":"{padding}{}"}}]"#, "p".repeat(10));
        for cuts in [&[][..], &[100, 1 << 20]] {
            let e = parse_in_pieces(too_long.as_bytes(), cuts).unwrap_err();
            assert_eq!(
                e.to_string(),
                "entry 1 at byte 1 of the list is longer than 4 MiB"
            );
        }

        let list = |count: usize| {
            let entries: Vec<String> = (0..count).map(|i| format!(r#"{{"Id":"{i}"}}"#)).collect();
            format!("[{}]", entries.join(","))
        };
        assert_eq!(
            parse_containers(list(MAX_CONTAINERS).as_bytes())
                .unwrap()
                .len(),
            MAX_CONTAINERS
        );
        let e = parse_containers(list(MAX_CONTAINERS + 1).as_bytes()).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "the list holds more than 10000 containers, more than cnetstat keeps (stopped at byte "
            ),
            "{e}"
        );
    }

    #[test]
    fn absurd_api_versions_fall_back_or_clamp() {
        assert_eq!(negotiate(None), (FALLBACK_API, None));
        assert_eq!(negotiate(Some("1.41")), (ApiVersion(1, 41), None));
        assert_eq!(
            negotiate(Some("99999999999999999999.1")),
            (OUR_MAX_API, None)
        );
        assert_eq!(
            negotiate(Some("1.99999999999999999999")),
            (OUR_MAX_API, None)
        );
        for (header, shown) in [
            ("1.", "1."),
            ("", ""),
            ("１.４１", "１.４１"),
            ("1.4\u{0}1\n", "1.4\\01\\n"),
            ("v1.41", "v1.41"),
        ] {
            assert_eq!(
                negotiate(Some(header)),
                (FALLBACK_API, Some(shown.to_owned())),
                "{header:?}"
            );
        }
        let (_, shown) = negotiate(Some(&"9".repeat(100)));
        assert_eq!(shown.unwrap(), format!("{}…", "9".repeat(40)), "no dot");
        let (_, shown) = negotiate(Some(&"x".repeat(100)));
        assert_eq!(shown.unwrap(), format!("{}…", "x".repeat(40)));
    }

    #[test]
    fn an_unusable_api_version_is_named_with_the_refusal() {
        let dir = TestDir::new("version");
        let refusal = r#"{"message":"client version 1.24 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version"}"#;
        let behavior = Behavior::Answer {
            ping: b"HTTP/1.1 200 OK\r\nApi-Version: 1.\r\nContent-Length: 2\r\n\r\nOK".to_vec(),
            other: format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\n\r\n{refusal}",
                refusal.len()
            )
            .into_bytes(),
        };
        let fake = FakeDocker::start(&dir.0, behavior).unwrap();
        let endpoint = unix(fake.socket());
        let e = list_containers(&endpoint, TIMEOUT).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{endpoint}: GET /v1.24/containers/json?all=1: HTTP 400: client version 1.24 is too old. \
                 Minimum supported API version is 1.44, please upgrade your client to a newer version \
                 (the daemon's Api-Version \"1.\" is not a version, so 1.24 was asked for)"
            )
        );
    }

    /// A fake daemon that answers every request with `script`.
    fn scripted(
        dir: &TestDir,
        script: impl Fn(&str, &mut UnixStream, &AtomicBool) + Send + Sync + 'static,
    ) -> FakeDocker {
        FakeDocker::start(&dir.0, Behavior::Script(Box::new(script))).unwrap()
    }

    /// The call's error, and that it came by the deadline.
    fn timed_out(endpoint: &Endpoint) -> DockerError {
        let started = Instant::now();
        let e = list_containers(endpoint, TIMEOUT).unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            elapsed < TIMEOUT + Duration::from_millis(250),
            "{elapsed:?}"
        );
        e
    }

    #[test]
    fn a_deadline_says_where_the_call_stood() {
        // Not accepting: connect itself waits.
        let dir = TestDir::new("stall-connect");
        let socket = dir.0.join("docker.sock");
        let backlog = FullBacklog::bind(&socket).unwrap();
        assert!(backlog.pending() > 0);
        let endpoint = unix(&socket);
        assert_eq!(
            timed_out(&endpoint).to_string(),
            format!(
                "{endpoint}: no answer within 500ms: connect did not complete \
                 (the daemon is not accepting connections)"
            )
        );
        drop(backlog);

        // A head cut short, then silence.
        let dir = TestDir::new("stall-stopped");
        let fake = scripted(&dir, |_, stream, stop| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nApi-Vers");
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let endpoint = unix(fake.socket());
        // With a 500 ms deadline nothing is stopped for a second: longer.
        let e = list_containers(&endpoint, Duration::from_millis(1300)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "{endpoint}: GET /_ping: the daemon stopped mid-answer: 25 bytes received, \
                 then nothing for 1."
            )) && text.ends_with("s up to the 1.3s deadline"),
            "{text}"
        );
        drop(fake);

        // A drip: a byte every 20 ms.
        let dir = TestDir::new("stall-drip");
        let fake = scripted(&dir, |_, stream, _| {
            for byte in b"HTTP/1.1 200 OK\r\n".iter().cycle() {
                std::thread::sleep(Duration::from_millis(20));
                if stream.write_all(&[*byte]).is_err() {
                    return;
                }
            }
        });
        let endpoint = unix(fake.socket());
        let e = timed_out(&endpoint);
        let Stall::Arriving {
            received,
            in_body: false,
        } = (match &e {
            DockerError::TimedOut { stall, .. } => stall.clone(),
            other => panic!("{other:?}"),
        })
        else {
            panic!("{e:?}")
        };
        assert!((10..=26).contains(&received), "{received}");
        assert_eq!(
            e.to_string(),
            format!(
                "{endpoint}: GET /_ping: the answer's head was still arriving at the 500ms \
                 deadline, {received} bytes so far (the daemon sends too slowly)"
            )
        );
        drop(fake);

        // A body that goes on and on.
        let dir = TestDir::new("stall-body");
        let fake = scripted(&dir, |head, stream, _| {
            if head.contains("/_ping") {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n\r\n");
                return;
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n[");
            let entry = br#"{"Id":"0123456789abcdef","Labels":{"a":"b"}},"#;
            loop {
                std::thread::sleep(Duration::from_millis(1));
                if stream.write_all(entry).is_err() {
                    return;
                }
            }
        });
        let endpoint = unix(fake.socket());
        let e = timed_out(&endpoint);
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "{endpoint}: GET /v1.41/containers/json?all=1: the answer was still arriving \
                 at the 500ms deadline, "
            )) && text.ends_with("so far (too large an answer, or too slow a daemon)"),
            "{text}"
        );
    }

    #[test]
    fn a_call_given_up_by_its_waiter_says_where_it_stood() {
        let endpoint = Endpoint::Unix("/run/docker.sock".into());
        let progress = Progress::new();
        let after = Duration::from_secs(6);
        let said = |progress: &Progress| progress.timed_out(&endpoint, after).to_string();
        progress.enter(Stage::Resolve);
        assert_eq!(
            said(&progress),
            "unix:///run/docker.sock: no answer within 6s: the host name did not resolve"
        );
        progress.start_request("/v1.41/containers/json?all=1");
        progress.enter(Stage::Receive);
        progress.got(100);
        progress.enter(Stage::Body);
        progress.got(1 << 20);
        progress.enter(Stage::Parse);
        assert_eq!(
            said(&progress),
            "unix:///run/docker.sock: GET /v1.41/containers/json?all=1: the answer, \
             1.0 MiB, was still being parsed at the 6s deadline"
        );
    }

    #[test]
    fn parses_docker_hosts() {
        assert_eq!(
            parse_docker_host("unix:///var/run/docker.sock").unwrap(),
            Endpoint::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            parse_docker_host("tcp://127.0.0.1:2375").unwrap(),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(
            parse_docker_host("tcp://[::1]:2375/").unwrap(),
            Endpoint::Tcp("[::1]:2375".into())
        );
        assert_eq!(
            parse_docker_host("unix:///run/user/1000/docker.sock")
                .unwrap()
                .to_string(),
            "unix:///run/user/1000/docker.sock"
        );
        assert_eq!(
            parse_docker_host("tcp://docker.local:2375")
                .unwrap()
                .to_string(),
            "tcp://docker.local:2375"
        );
        for (value, message) in [
            (
                "/var/run/docker.sock",
                "expected unix://PATH or tcp://HOST:PORT",
            ),
            ("unix://", "unix:// needs the socket's path"),
            ("tcp://host", "tcp:// needs HOST:PORT"),
            ("tcp://:2375", "tcp:// needs HOST:PORT"),
            ("tcp://host:0", "tcp:// needs HOST:PORT"),
            ("tcp://host:99999", "tcp:// needs HOST:PORT"),
            ("tcp://us er@host:2375", "tcp:// needs HOST:PORT"),
            (
                "tcp://host:2375/v1",
                "a base path after tcp://HOST:PORT is not supported",
            ),
            (
                "tcp://host:2376",
                "port 2376 is Docker's TLS port, and TLS is not supported",
            ),
            (
                "ssh://me@node",
                "ssh:// is not supported: run cnetstat on the node itself",
            ),
            (
                "npipe:////./pipe/docker_engine",
                "npipe:// is a Windows named pipe, not supported",
            ),
            (
                "http://host:2375",
                "unknown scheme; expected unix://PATH or tcp://HOST:PORT",
            ),
        ] {
            let e = parse_docker_host(value).unwrap_err();
            assert_eq!(e.to_string(), format!("cannot use \"{value}\": {message}"));
        }
    }

    #[test]
    fn tls_verify_refuses_tcp_only() {
        let tcp = "tcp://10.0.0.1:2375";
        let e = refuse_tls(tcp, parse_docker_host(tcp), true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot use \"tcp://10.0.0.1:2375\": DOCKER_TLS_VERIFY is set, and TLS is not supported"
        );
        assert!(refuse_tls(tcp, parse_docker_host(tcp), false).is_ok());
        let unix = "unix:///run/docker.sock";
        assert!(refuse_tls(unix, parse_docker_host(unix), true).is_ok());
    }

    #[test]
    fn api_versions() {
        assert_eq!(ApiVersion::parse("1.41"), Some(ApiVersion(1, 41)));
        assert!(ApiVersion(1, 9) < ApiVersion(1, 41));
        assert!(ApiVersion(1, 99) > OUR_MAX_API);
        for bad in ["", "1", "1.", ".41", "1.4x", "v1.41", "1.-4"] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn error_messages_are_one_line() {
        assert_eq!(
            error_message(&fixture_body("too-new-400.http")),
            "client version 1.99 is too new. Maximum supported API version is 1.41"
        );
        assert_eq!(
            error_message(b"{\"message\":\"two\\nlines\"}"),
            "two\\nlines"
        );
        assert_eq!(error_message(b"404 page not found\n"), "404 page not found");
        assert_eq!(error_message(b""), "(empty body)");
        let long = error_message(&[b'x'; 300]);
        assert_eq!(long, format!("{}…", "x".repeat(200)));
    }

    /// A fresh directory under the system's temporary one, removed on drop.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new(name: &str) -> TestDir {
            let dir =
                env::temp_dir().join(format!("cnetstat-docker-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TestDir(dir)
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn unix(path: &Path) -> Endpoint {
        Endpoint::Unix(path.to_owned())
    }

    const TIMEOUT: Duration = Duration::from_millis(500);

    #[test]
    fn lists_from_a_fake_daemon_with_one_list_request() {
        let dir = TestDir::new("answer");
        let behavior = Behavior::Answer {
            ping: fixture("ping.http"),
            other: fixture("containers-chunked.http"),
        };
        let fake = FakeDocker::start(&dir.0, behavior).unwrap();
        let containers = list_containers(&unix(fake.socket()), TIMEOUT).unwrap();
        assert_eq!(containers, recorded_containers());
        let request_lines: Vec<String> = fake
            .requests()
            .iter()
            .map(|head| head.lines().next().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(
            request_lines,
            [
                "GET /_ping HTTP/1.1",
                "GET /v1.41/containers/json?all=1 HTTP/1.1"
            ]
        );
        assert!(fake.requests()[1].contains("\r\nHost: api.moby.localhost\r\n"));
    }

    #[test]
    fn negotiates_down_to_ours_or_falls_back() {
        let dir = TestDir::new("negotiate");
        let newer = String::from_utf8(fixture("ping.http"))
            .unwrap()
            .replace("1.41", "1.99");
        let behavior = Behavior::Answer {
            ping: newer.into_bytes(),
            other: fixture("too-new-400.http"),
        };
        let fake = FakeDocker::start(&dir.0, behavior).unwrap();
        let endpoint = unix(fake.socket());
        let e = list_containers(&endpoint, TIMEOUT).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{endpoint}: GET /v1.56/containers/json?all=1: HTTP 400: \
                 client version 1.99 is too new. Maximum supported API version is 1.41"
            )
        );
        drop(fake);

        let behavior = Behavior::Answer {
            ping: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK".to_vec(),
            other: b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n[]\n".to_vec(),
        };
        let fake = FakeDocker::start(&dir.0, behavior).unwrap();
        assert_eq!(
            list_containers(&unix(fake.socket()), TIMEOUT).unwrap(),
            vec![]
        );
        assert!(fake.requests()[1].starts_with("GET /v1.24/containers/json?all=1 HTTP/1.1\r\n"));
    }

    #[test]
    fn a_hanging_daemon_times_out_within_the_timeout() {
        let dir = TestDir::new("hang");
        let fake = FakeDocker::start(&dir.0, Behavior::Hang).unwrap();
        let endpoint = unix(fake.socket());
        let started = Instant::now();
        let e = list_containers(&endpoint, TIMEOUT).unwrap_err();
        let elapsed = started.elapsed();
        assert!(matches!(e, DockerError::TimedOut { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "{endpoint}: GET /_ping: no answer within 500ms: \
                 connected, but the daemon sent nothing"
            )
        );
        assert!(
            elapsed >= TIMEOUT && elapsed < TIMEOUT + Duration::from_millis(250),
            "{elapsed:?}"
        );
    }

    #[test]
    fn a_dripping_daemon_cannot_stretch_the_timeout() {
        // Every read gets a byte before its own timeout, so only the overall
        // deadline can end the call.
        let (mut daemon, client) = UnixStream::pair().unwrap();
        let dripper = std::thread::spawn(move || {
            let _ = daemon.write_all(b"HTTP/1.1 200 OK\r\n");
            for _ in 0..40 {
                std::thread::sleep(Duration::from_millis(50));
                if daemon.write_all(b"X: y\r\n").is_err() {
                    break;
                }
            }
        });
        let progress = Progress::new();
        progress.enter(Stage::Send);
        let connection = Connection {
            socket: Socket::Unix(client),
            deadline: Instant::now() + Duration::from_millis(300),
            progress: &progress,
        };
        let started = Instant::now();
        let e = http::get(connection, "h", "/", MAX_RESPONSE_BYTES)
            .map(drop)
            .unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert!(started.elapsed() < Duration::from_millis(500));
        match progress.stall(Instant::now()) {
            Stall::Arriving {
                received,
                in_body: false,
            } => assert!(received >= 17 + 6, "{received}"),
            other => panic!("{other:?}"),
        }
        dripper.join().unwrap();
    }

    #[test]
    fn the_fake_daemon_stops_when_dropped() {
        let dir = TestDir::new("drop");
        let fake = FakeDocker::start(&dir.0, Behavior::Hang).unwrap();
        let mut client = UnixStream::connect(fake.socket()).unwrap();
        client.write_all(b"GET /_ping HTTP/1.1\r\n\r\n").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        // Wait until the request is in, so the fake holds the connection.
        while fake.requests().is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let started = Instant::now();
        drop(fake);
        assert!(started.elapsed() < Duration::from_millis(500));
        // The held connection closed with the server.
        assert_eq!(client.read(&mut [0; 16]).unwrap(), 0);
        assert!(!dir.0.join("docker.sock").exists());
    }

    #[test]
    fn a_garbage_answer_is_an_error() {
        let dir = TestDir::new("garbage");
        let fake = FakeDocker::start(&dir.0, Behavior::Garbage).unwrap();
        let endpoint = unix(fake.socket());
        let e = list_containers(&endpoint, TIMEOUT).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{endpoint}: GET /_ping: malformed status line \"\\x00\\x13 this is no HTTP \\xff\"")
        );

        let behavior = Behavior::Answer {
            ping: fixture("ping.http"),
            other: b"HTTP/1.1 200 OK\r\n\r\n<html>".to_vec(),
        };
        drop(fake);
        let fake = FakeDocker::start(&dir.0, behavior).unwrap();
        let e = list_containers(&unix(fake.socket()), TIMEOUT).unwrap_err();
        assert!(matches!(e, DockerError::BadJson { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "{endpoint}: GET /v1.41/containers/json?all=1: not a container list: \
                 expected `[` at byte 0, found `<`"
            )
        );
    }

    #[test]
    fn a_daemon_that_closes_at_once_is_an_error() {
        let dir = TestDir::new("close");
        let fake = FakeDocker::start(&dir.0, Behavior::Close).unwrap();
        let e = list_containers(&unix(fake.socket()), TIMEOUT).unwrap_err();
        // Closed before reading the request, the socket resets rather than ends.
        assert!(matches!(e, DockerError::Http { .. }), "{e:?}");
        assert!(e.to_string().contains(": GET /_ping: "), "{e}");
    }

    #[test]
    fn no_daemon_is_an_error_naming_the_socket() {
        let dir = TestDir::new("absent");
        let missing = unix(&dir.0.join("docker.sock"));
        let e = list_containers(&missing, TIMEOUT).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{missing}: cannot connect: no such socket")
        );

        // A socket file nobody listens on any more.
        drop(std::os::unix::net::UnixListener::bind(dir.0.join("docker.sock")).unwrap());
        let e = list_containers(&missing, TIMEOUT).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{missing}: cannot connect: connection refused")
        );

        let refused = Endpoint::Tcp("127.0.0.1:1".into());
        let e = list_containers(&refused, TIMEOUT).unwrap_err();
        assert_eq!(
            e.to_string(),
            "tcp://127.0.0.1:1: cannot connect: connection refused"
        );
    }

    /// Against the machine's own dockerd, when one answers: a container made
    /// the way dockershim makes an app container comes back with its pod.
    #[test]
    fn lists_the_live_daemon() {
        let endpoint = unix(Path::new("/var/run/docker.sock"));
        if UnixStream::connect("/var/run/docker.sock").is_err() {
            eprintln!("skipped: no dockerd answers on /var/run/docker.sock");
            return;
        }
        let name = format!("k8s_app_live-{}_test_uid-1_0", std::process::id());
        let created = Command::new("docker")
            .args([
                "create",
                "--pull",
                "never",
                "--network",
                "none",
                "--name",
                &name,
            ])
            .args(["--label", "io.kubernetes.pod.namespace=test"])
            .args(["--label", "io.kubernetes.pod.name=live"])
            .args(["--label", "io.kubernetes.container.name=app"])
            .args(["busybox:local", "true"])
            .output();
        let id = match created {
            Ok(out) if out.status.success() => {
                String::from_utf8(out.stdout).unwrap().trim().to_owned()
            }
            _ => {
                eprintln!(
                    "skipped: cannot create a container with `docker create` and busybox:local"
                );
                return;
            }
        };
        let listed = list_containers(&endpoint, Duration::from_secs(10));
        let _ = Command::new("docker").args(["rm", "-f", &id]).output();
        let containers = listed.unwrap();
        let ours = containers
            .iter()
            .find(|c| c.id == id)
            .expect("the created container");
        assert_eq!(
            *ours,
            docker_container(
                &id,
                "app",
                Some(PodInfo {
                    namespace: "test".into(),
                    name: "live".into(),
                    uid: None,
                }),
                false
            )
        );
    }

    /// The socket found under the root is the one connected to, even when
    /// its path is given to another socket between the lookup and the
    /// connect.
    #[test]
    fn a_socket_found_in_the_root_is_connected_through_its_handle() {
        let dir = std::env::temp_dir().join(format!("cnetstat-docker-handle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("run")).unwrap();
        let found = std::os::unix::net::UnixListener::bind(dir.join("run/docker.sock")).unwrap();
        let root = crate::collect::host_root::HostRoot::open(dir.clone()).unwrap();
        let handle = root.open_handle(Path::new("/run/docker.sock")).unwrap();
        std::fs::rename(dir.join("run/docker.sock"), dir.join("run/moved.sock")).unwrap();
        let planted = std::os::unix::net::UnixListener::bind(dir.join("run/docker.sock")).unwrap();
        planted.set_nonblocking(true).unwrap();
        let endpoint = Endpoint::UnixInRoot(Arc::new(RootSocket {
            handle,
            shown: dir.join("run/docker.sock"),
        }));
        let progress = Progress::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        let _connection = Connection::open(&endpoint, deadline, &progress).unwrap();
        found.set_nonblocking(true).unwrap();
        assert!(found.accept().is_ok(), "the socket looked up was not connected to");
        assert!(planted.accept().is_err(), "the planted socket was connected to");
        assert_eq!(endpoint.to_string(), format!("unix://{}/run/docker.sock", dir.display()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
