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

use std::collections::HashMap;
use std::env;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::http::{self, HttpError};
use crate::model::{ContainerInfo, PodInfo, Runtime, SANDBOX_NAME};
use crate::parse::ids::{
    labelled_pod, CONTAINER_NAME_LABEL, POD_NAMESPACE_LABEL, POD_NAME_LABEL, POD_UID_LABEL,
};
use crate::text::parse_decimal;

/// Where the daemon listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    /// `host:port`, as given.
    Tcp(String),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
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
    /// Connecting (`path` None) or a request ran past the call's timeout.
    TimedOut {
        endpoint: Endpoint,
        path: Option<String>,
        after: Duration,
    },
    /// The answer to `path` was not a well-formed HTTP response.
    Http {
        endpoint: Endpoint,
        path: String,
        error: HttpError,
    },
    /// The daemon answered with an error status; `message` is the one its
    /// JSON error body carries, or the start of the body.
    Status {
        endpoint: Endpoint,
        path: String,
        status: u16,
        message: String,
    },
    BadJson {
        endpoint: Endpoint,
        path: String,
        error: serde_json::Error,
    },
}

impl fmt::Display for DockerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerError::UnsupportedHost { value, reason } => {
                write!(f, "cannot use \"{}\": {reason}", value.escape_debug())
            }
            DockerError::Connect { endpoint, error } => {
                write!(f, "{endpoint}: cannot connect: ")?;
                match (endpoint, error.kind()) {
                    (Endpoint::Unix(_), io::ErrorKind::NotFound) => f.write_str("no such socket"),
                    (_, io::ErrorKind::ConnectionRefused) => f.write_str("connection refused"),
                    (_, io::ErrorKind::PermissionDenied) => f.write_str("permission denied"),
                    _ => write!(f, "{error}"),
                }
            }
            DockerError::TimedOut {
                endpoint,
                path: None,
                after,
            } => write!(f, "{endpoint}: connect timed out after {after:?}"),
            DockerError::TimedOut {
                endpoint,
                path: Some(path),
                after,
            } => write!(f, "{endpoint}: GET {path}: timed out after {after:?}"),
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
            } => write!(f, "{endpoint}: GET {path}: HTTP {status}: {message}"),
            DockerError::BadJson {
                endpoint,
                path,
                error,
            } => write!(f, "{endpoint}: GET {path}: not a container list: {error}"),
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
/// Far above any real list (a container's summary is under 2 KiB), but a
/// bound against a daemon or proxy that streams without end.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ApiVersion(u32, u32);

impl ApiVersion {
    fn parse(text: &str) -> Option<ApiVersion> {
        let (major, minor) = text.trim().split_once('.')?;
        let number = |part: &str| parse_decimal(part.as_bytes());
        Some(ApiVersion(number(major)?, number(minor)?))
    }
}

/// Lists every container, running or not. The whole call, both requests
/// included, ends within `timeout`. Connecting to a Unix socket is the one
/// step outside it: the kernel makes that wait only when the daemon's
/// accept backlog is full.
pub fn list_containers(
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<Vec<ContainerInfo>, DockerError> {
    let deadline = Instant::now() + timeout;
    let ping = request(endpoint, "/_ping", deadline, timeout)?;
    // Taken whatever the status: the daemon's middleware sets the header on
    // every answer, errors included.
    let version = ping
        .header("Api-Version")
        .and_then(ApiVersion::parse)
        .map_or(FALLBACK_API, |theirs| theirs.min(OUR_MAX_API));
    let path = format!("/v{}.{}/containers/json?all=1", version.0, version.1);
    let response = request(endpoint, &path, deadline, timeout)?;
    if response.status != 200 {
        return Err(DockerError::Status {
            endpoint: endpoint.clone(),
            path,
            status: response.status,
            message: error_message(&response.body),
        });
    }
    parse_containers(&response.body).map_err(|error| DockerError::BadJson {
        endpoint: endpoint.clone(),
        path,
        error,
    })
}

/// One request on a connection of its own (we send `Connection: close`).
fn request(
    endpoint: &Endpoint,
    path: &str,
    deadline: Instant,
    timeout: Duration,
) -> Result<http::Response, DockerError> {
    let timed_out = |path: Option<&str>| DockerError::TimedOut {
        endpoint: endpoint.clone(),
        path: path.map(str::to_owned),
        after: timeout,
    };
    let connection = Connection::open(endpoint, deadline).map_err(|error| {
        if error.kind() == io::ErrorKind::TimedOut {
            timed_out(None)
        } else {
            DockerError::Connect {
                endpoint: endpoint.clone(),
                error,
            }
        }
    })?;
    // The Docker client sends this placeholder host for a Unix socket
    // (moby `client.DummyHost`); a socket path there gets a 400.
    let host = match endpoint {
        Endpoint::Unix(_) => "api.moby.localhost",
        Endpoint::Tcp(address) => address,
    };
    http::get(connection, host, path, MAX_RESPONSE_BYTES).map_err(|error| {
        if error.is_timeout() {
            timed_out(Some(path))
        } else {
            DockerError::Http {
                endpoint: endpoint.clone(),
                path: path.to_owned(),
                error,
            }
        }
    })
}

enum Socket {
    Unix(UnixStream),
    Tcp(TcpStream),
}

/// A socket whose every read and write must finish by one deadline, so a
/// daemon that drips bytes cannot stretch the call past its timeout.
struct Connection {
    socket: Socket,
    deadline: Instant,
}

impl Connection {
    fn open(endpoint: &Endpoint, deadline: Instant) -> io::Result<Connection> {
        let socket = match endpoint {
            Endpoint::Unix(path) => Socket::Unix(UnixStream::connect(path)?),
            Endpoint::Tcp(address) => Socket::Tcp(connect_tcp(address, deadline)?),
        };
        Ok(Connection { socket, deadline })
    }
}

/// Tries each address the name resolves to, as the Docker client does.
fn connect_tcp(address: &str, deadline: Instant) -> io::Result<TcpStream> {
    let mut last_error = io::Error::other("the host name has no address");
    for candidate in address.to_socket_addrs()? {
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

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = Some(time_left(self.deadline)?);
        match &mut self.socket {
            Socket::Unix(s) => s.set_read_timeout(left).and_then(|()| s.read(buf)),
            Socket::Tcp(s) => s.set_read_timeout(left).and_then(|()| s.read(buf)),
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = Some(time_left(self.deadline)?);
        let fd = match &self.socket {
            Socket::Unix(s) => s.set_write_timeout(left).map(|()| s.as_raw_fd())?,
            Socket::Tcp(s) => s.set_write_timeout(left).map(|()| s.as_raw_fd())?,
        };
        // send(2) with MSG_NOSIGNAL rather than write(2): a daemon that has
        // closed must give EPIPE, never a SIGPIPE, whatever the process's
        // signal disposition. SAFETY: `buf` is valid for `buf.len()` bytes,
        // and `fd` is open for as long as `self.socket` lives.
        let sent = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        usize::try_from(sent).map_err(|_| io::Error::last_os_error())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The `message` of a Docker error body (`{"message":"…"}`), else the
/// start of the body; one line either way.
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
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

/// The fields of a `/containers/json` entry that name a container.
#[derive(Deserialize)]
struct Summary {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Names", default)]
    names: Option<Vec<String>>,
    #[serde(rename = "Labels", default)]
    labels: Option<HashMap<String, String>>,
}

/// dockershim's and cri-dockerd's mark on a pod's sandbox container.
const DOCKER_TYPE_LABEL: &str = "io.kubernetes.docker.type";

/// Parses a `/containers/json` response body.
pub fn parse_containers(body: &[u8]) -> Result<Vec<ContainerInfo>, serde_json::Error> {
    let summaries: Vec<Summary> = serde_json::from_slice(body)?;
    Ok(summaries.into_iter().map(container_info).collect())
}

fn container_info(summary: Summary) -> ContainerInfo {
    let labels = summary.labels.unwrap_or_default();
    let label = |key| labels.get(key).map(String::as_str);
    let docker_name = primary_name(summary.names.as_deref().unwrap_or_default());
    let sandbox_label = label(DOCKER_TYPE_LABEL) == Some("podsandbox");
    let pod_from_labels = labelled_pod(
        label(POD_NAMESPACE_LABEL),
        label(POD_NAME_LABEL),
        label(POD_UID_LABEL),
    );
    let container_label = label(CONTAINER_NAME_LABEL);

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
    ContainerInfo {
        runtime: Some(Runtime::Docker),
        name,
        pod,
        sandbox,
        ..ContainerInfo::unnamed(summary.id)
    }
}

/// The container's own name without its leading `/`. Docker also lists
/// legacy link aliases (`/other/alias`), which hold a second `/`.
fn primary_name(names: &[String]) -> Option<&str> {
    fn unslashed(name: &str) -> &str {
        name.strip_prefix('/').unwrap_or(name)
    }
    let mut unslashed_names = names.iter().map(|name| unslashed(name));
    unslashed_names
        .clone()
        .find(|name| !name.contains('/'))
        .or_else(|| unslashed_names.next())
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
    use super::fake_docker::{Behavior, FakeDocker};
    use super::*;
    use std::path::Path;
    use std::process::Command;

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
        for body in [
            &b""[..],
            b"{}",
            b"[{\"Names\":[]}]",
            b"[{\"Id\":7}]",
            b"OK",
            b"[{\"Id\":\"a\"}",
        ] {
            assert!(parse_containers(body).is_err(), "{}", body.escape_ascii());
        }
        assert_eq!(parse_containers(b"[]\n").unwrap(), vec![]);
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
            format!("{endpoint}: GET /_ping: timed out after 500ms")
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
        let connection = Connection {
            socket: Socket::Unix(client),
            deadline: Instant::now() + Duration::from_millis(300),
        };
        let started = Instant::now();
        let e = http::get(connection, "h", "/", MAX_RESPONSE_BYTES).unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert!(started.elapsed() < Duration::from_millis(500));
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
                 expected value at line 1 column 1"
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
}
