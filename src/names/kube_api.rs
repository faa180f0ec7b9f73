//! Names for remote addresses from the Kubernetes API: every pod, Service
//! and node of the cluster, from one list call each.
//!
//! Credentials come from one [`KubeSource`], resolved by [`resolve_access`]
//! into a [`KubeAccess`]; [`list_cluster`] then lists pods, Services and
//! nodes in parallel. What it will not do, on purpose:
//! - Trust anything but the cluster's CA: no public root bundle, and a
//!   kubeconfig's `insecure-skip-tls-verify: true` is refused with an error
//!   rather than honoured (an SRE's node tool holding cluster credentials
//!   must not hand them to whoever answers).
//! - Use a proxy (`HTTPS_PROXY` in a node's environment is for its
//!   workloads, not for cluster credentials), follow redirects, or speak
//!   plain HTTP.
//! - Run `exec` or `auth-provider` plugins a kubeconfig names.
//!
//! Bounded whatever the server does: all three lists finish within the
//! caller's deadline (each call's global timeout is what remains of it and
//! covers connect, TLS, headers and body), and each body is capped at
//! [`MAX_LIST_BYTES`] and parsed as it streams, keeping only the fields
//! below, so memory stays at the size of the names kept.

mod tls_identity;

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, BufReader};
use std::marker::PhantomData;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use ureq::tls::TlsConfig;
use ureq::Agent;

use crate::model::{RemoteNode, RemotePod, RemoteService};
use crate::parse::kubeconfig::{self, Credentials, KubeconfigError, Material};

/// Where the API is and how to authenticate, resolved from one source.
pub struct KubeAccess {
    /// `https://host:port`, with the path prefix some proxies put before
    /// `/api` (Rancher's `/k8s/clusters/c-xxxxx`), without a trailing `/`.
    pub server: String,
    /// The cluster CA bundle (PEM), the only roots the server is checked
    /// against.
    pub ca_pem: Vec<u8>,
    pub auth: KubeAuth,
    /// Where this came from, for messages: "in-cluster service account",
    /// "kubeconfig /root/.kube/config (context prod)".
    pub source: String,
}

pub enum KubeAuth {
    Token(String),
    /// PEM; both may be the same file's bytes, holding certificate and key
    /// (the kubelet's `kubelet-client-current.pem`).
    ClientCert {
        cert_pem: Vec<u8>,
        key_pem: Vec<u8>,
    },
    None,
}

/// Which credentials to use; the caller picks the order in which to try
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeSource {
    /// `--kubeconfig FILE`, or the first file of `$KUBECONFIG` (see
    /// [`KubeSource::from_kubeconfig_var`]). Its current context is used.
    Kubeconfig(PathBuf),
    /// The pod's service account: the token and `ca.crt` under
    /// [`SERVICE_ACCOUNT_DIR`], the server from `KUBERNETES_SERVICE_HOST`
    /// and `KUBERNETES_SERVICE_PORT`.
    InCluster,
    /// The kubelet's own kubeconfig on the node whose filesystem is at this
    /// root (`/`, or `/host` in a `kubectl debug node` pod), the first of
    /// [`KUBELET_KUBECONFIGS`] that exists. Every path this source gives
    /// `read` is a host path — the kubeconfigs above and the certificate
    /// files they name — for the caller to resolve inside the root; the
    /// root only appears in messages. `read` must follow links inside the
    /// root (as `HostRoot::open_file` does): the kubelet's
    /// `kubelet-client-current.pem` is a link, often absolute, to the
    /// current dated certificate.
    KubeletUnderRoot(PathBuf),
}

impl KubeSource {
    /// `$KUBECONFIG` reduced to its first file: kubectl merges every file of
    /// the colon-separated list, cnetstat reads the first, which is also
    /// the one whose `current-context` kubectl would use first.
    pub fn from_kubeconfig_var(value: &OsStr) -> Option<KubeSource> {
        std::env::split_paths(value)
            .find(|path| !path.as_os_str().is_empty())
            .map(KubeSource::Kubeconfig)
    }
}

/// Where kubelets keep their kubeconfig, in the order they are tried:
/// kubeadm; EKS, GKE, AKS and kops; some other installers; k3s; RKE2.
pub const KUBELET_KUBECONFIGS: [&str; 5] = [
    "/etc/kubernetes/kubelet.conf",
    "/var/lib/kubelet/kubeconfig",
    "/etc/kubernetes/kubelet-kubeconfig",
    "/var/lib/rancher/k3s/agent/kubelet.kubeconfig",
    "/var/lib/rancher/rke2/agent/kubelet.kubeconfig",
];

pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Each list body's limit, so a broken or hostile server cannot make
/// cnetstat read without end. A pod's JSON runs to kilobytes (metadata with
/// managedFields, spec, container statuses), so this is some ten thousand
/// pods, not the 150,000 Kubernetes allows a cluster.
pub const MAX_LIST_BYTES: u64 = 64 << 20;

/// Most items one list may hold. Real Pods, Services and Nodes, with their
/// metadata and managedFields, are larger than the 671 bytes a list at both
/// limits would average, so MAX_LIST_BYTES is what stops a real list. This
/// stops a server sending near-empty items, which would otherwise turn
/// 64 MiB of JSON into several times that in structs (64 MiB of 86-byte
/// pods took 200 MB).
pub const MAX_LIST_ITEMS: usize = 100_000;

/// An error answer's body is only read for its `Status.message`.
const MAX_ERROR_BODY_BYTES: u64 = 64 << 10;

type ReadFile<'a> = &'a dyn Fn(&Path) -> io::Result<Vec<u8>>;

/// Resolves `source` into an address and credentials, reading files only
/// through `read`. The result is checked as far as it can be without
/// calling the server: an https URL, a usable token, a CA bundle and a
/// client certificate that TLS will accept.
pub fn resolve_access(
    source: &KubeSource,
    read: &dyn Fn(&Path) -> io::Result<Vec<u8>>,
) -> Result<KubeAccess, KubeError> {
    let access = match source {
        KubeSource::Kubeconfig(path) => {
            let text = read(path).map_err(|error| KubeError::Read {
                path: path.clone(),
                error,
            })?;
            from_kubeconfig(
                path,
                &text,
                "kubeconfig",
                &|path: &Path| path.to_path_buf(),
                read,
            )?
        }
        KubeSource::InCluster => in_cluster(&|name| std::env::var(name).ok(), read)?,
        KubeSource::KubeletUnderRoot(root) => kubelet_under_root(root, read)?,
    };
    tls_identity::tls_config(&access.ca_pem, &access.auth).map_err(|problem| {
        KubeError::Unusable {
            source: access.source.clone(),
            problem: problem.to_string(),
        }
    })?;
    Ok(access)
}

/// Reads the kubeconfig at `path`, whose `text` has been read. `shown` maps
/// a path given to `read` to the one to name in messages.
fn from_kubeconfig(
    path: &Path,
    text: &[u8],
    label: &str,
    shown: &dyn Fn(&Path) -> PathBuf,
    read: ReadFile,
) -> Result<KubeAccess, KubeError> {
    let selection = kubeconfig::select_current_context(text, path).map_err(|err| {
        KubeError::Kubeconfig(KubeconfigError {
            path: shown(&err.path),
            ..err
        })
    })?;
    let source = format!(
        "{label} {} (context {})",
        shown(path).display(),
        selection.context
    );
    let read_named = |file: &Path| {
        read(file).map_err(|error| KubeError::Read {
            path: shown(file),
            error,
        })
    };
    let material = |material: Material| match material {
        Material::Inline(bytes) => Ok(bytes),
        Material::File(file) => read_named(&file),
    };
    let auth = match selection.credentials {
        Credentials::Token(token) => KubeAuth::Token(token),
        Credentials::TokenFile(file) => {
            let token = read_named(&file)?;
            KubeAuth::Token(token_text(&token, &source, &shown(&file))?)
        }
        Credentials::ClientCertificate { certificate, key } => KubeAuth::ClientCert {
            cert_pem: material(certificate)?,
            key_pem: material(key)?,
        },
        Credentials::Anonymous => KubeAuth::None,
    };
    let ca_pem = material(selection.certificate_authority)?;
    let server = server_url(&selection.server, &source)?;
    Ok(KubeAccess {
        server,
        ca_pem,
        auth,
        source,
    })
}

fn in_cluster(
    env: &dyn Fn(&str) -> Option<String>,
    read: ReadFile,
) -> Result<KubeAccess, KubeError> {
    let var = |name: &'static str| {
        env(name)
            .filter(|value| !value.is_empty())
            .ok_or(KubeError::NotInCluster { missing: name })
    };
    let host = var("KUBERNETES_SERVICE_HOST")?;
    let port = var("KUBERNETES_SERVICE_PORT")?;
    let source = "in-cluster service account".to_string();
    let server = if host.contains(':') {
        format!("https://[{host}]:{port}")
    } else {
        format!("https://{host}:{port}")
    };
    let server = server_url(&server, &source)?;
    let dir = Path::new(SERVICE_ACCOUNT_DIR);
    let read_named =
        |file: PathBuf| read(&file).map_err(|error| KubeError::Read { path: file, error });
    let token_file = dir.join("token");
    let token = token_text(&read_named(token_file.clone())?, &source, &token_file)?;
    let ca_pem = read_named(dir.join("ca.crt"))?;
    Ok(KubeAccess {
        server,
        ca_pem,
        auth: KubeAuth::Token(token),
        source,
    })
}

fn kubelet_under_root(root: &Path, read: ReadFile) -> Result<KubeAccess, KubeError> {
    let shown = |host_path: &Path| match host_path.strip_prefix("/") {
        Ok(relative) if root != Path::new("/") => root.join(relative),
        _ => host_path.to_path_buf(),
    };
    for candidate in KUBELET_KUBECONFIGS.map(Path::new) {
        match read(candidate) {
            Ok(text) => {
                return from_kubeconfig(candidate, &text, "kubelet kubeconfig", &shown, read)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => {
                return Err(KubeError::Read {
                    path: shown(candidate),
                    error,
                })
            }
        }
    }
    Err(KubeError::NoKubeletKubeconfig {
        root: root.to_path_buf(),
    })
}

/// A token as files hold it (client-go trims it too), checked to fit in an
/// `Authorization` header.
fn token_text(bytes: &[u8], source: &str, file: &Path) -> Result<String, KubeError> {
    let unusable = |problem: String| KubeError::Unusable {
        source: source.to_string(),
        problem,
    };
    let token = std::str::from_utf8(bytes)
        .map(str::trim)
        .map_err(|_| unusable(format!("token file {} is not text", file.display())))?;
    if token.is_empty() {
        return Err(unusable(format!("token file {} is empty", file.display())));
    }
    check_token(token).map_err(unusable)?;
    Ok(token.to_string())
}

fn check_token(token: &str) -> Result<(), String> {
    if token.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err("the token holds characters an HTTP header cannot carry".into())
    }
}

/// `server` as an `https://` URL with a host and no query, without a
/// trailing slash so API paths can be appended.
fn server_url(server: &str, source: &str) -> Result<String, KubeError> {
    let trimmed = server.trim_end_matches('/');
    let usable = trimmed.parse::<ureq::http::Uri>().ok().is_some_and(|uri| {
        uri.scheme_str() == Some("https")
            && uri
                .authority()
                .is_some_and(|a| !a.host().is_empty() && !a.as_str().contains('@'))
            && uri.query().is_none()
    });
    if usable {
        Ok(trimmed.to_string())
    } else {
        Err(KubeError::Unusable {
            source: source.to_string(),
            problem: format!("server \"{server}\" is not an https:// URL with a host"),
        })
    }
}

/// Everything the cluster could name. A list that failed is missing from
/// here and its error is in `problems`; the others are still returned.
#[derive(Debug, Default)]
pub struct ClusterNames {
    pub pods: Vec<RemotePod>,
    pub services: Vec<RemoteService>,
    pub nodes: Vec<RemoteNode>,
    pub problems: Vec<KubeError>,
}

/// Lists the cluster's pods, Services and nodes, in parallel, each with one
/// GET, all within `deadline`.
///
/// Pods are listed with `resourceVersion=0`, which lets the API server
/// answer from its watch cache instead of reading every pod from etcd: the
/// list may trail the cluster by a moment, which names do not mind, and
/// many nodes running cnetstat at once do not load etcd.
pub fn list_cluster(access: &KubeAccess, deadline: Duration) -> ClusterNames {
    let client = match Client::new(access, deadline) {
        Ok(client) => client,
        Err(problem) => {
            return ClusterNames {
                problems: vec![problem],
                ..ClusterNames::default()
            }
        }
    };
    let (pods, services, nodes) = thread::scope(|scope| {
        let pods = scope.spawn(|| client.list::<Pod>("/api/v1/pods?resourceVersion=0", "PodList"));
        let services = scope.spawn(|| client.list::<Service>("/api/v1/services", "ServiceList"));
        let nodes = client.list::<Node>("/api/v1/nodes", "NodeList");
        (joined(pods), joined(services), nodes)
    });
    let mut names = ClusterNames::default();
    match pods {
        Ok(pods) => names.pods = pods.into_iter().filter_map(Pod::into_remote).collect(),
        Err(problem) => names.problems.push(problem),
    }
    match services {
        Ok(services) => names.services = services.into_iter().map(Service::into_remote).collect(),
        Err(problem) => names.problems.push(problem),
    }
    match nodes {
        Ok(nodes) => names.nodes = nodes.into_iter().map(Node::into_remote).collect(),
        Err(problem) => names.problems.push(problem),
    }
    names
}

fn joined<T>(worker: thread::ScopedJoinHandle<'_, T>) -> T {
    match worker.join() {
        Ok(value) => value,
        // A worker only panics on a bug; surface it where it happened.
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

struct Client<'a> {
    access: &'a KubeAccess,
    tls: TlsConfig,
    deadline: Duration,
    give_up_at: Instant,
}

impl<'a> Client<'a> {
    fn new(access: &'a KubeAccess, deadline: Duration) -> Result<Self, KubeError> {
        // Instant arithmetic, here and in ureq, panics past its range; no
        // listing needs more than an hour.
        let deadline = deadline.min(Duration::from_secs(3600));
        let give_up_at = Instant::now() + deadline;
        let unusable = |problem: String| KubeError::Unusable {
            source: access.source.clone(),
            problem,
        };
        // KubeAccess is plain data a caller may have built by hand, so the
        // checks resolve_access made are made again here.
        server_url(&access.server, &access.source)?;
        if let KubeAuth::Token(token) = &access.auth {
            check_token(token).map_err(unusable)?;
        }
        let tls = tls_identity::tls_config(&access.ca_pem, &access.auth)
            .map_err(|problem| unusable(problem.to_string()))?;
        Ok(Client {
            access,
            tls,
            deadline,
            give_up_at,
        })
    }

    /// GETs the list at `path` and returns its items.
    fn list<T: DeserializeOwned>(&self, path: &str, kind: &str) -> Result<Vec<T>, KubeError> {
        let url = format!("{}{path}", self.access.server);
        let remaining = self.give_up_at.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(KubeError::TimedOut {
                url,
                deadline: self.deadline,
            });
        }
        let agent: Agent = Agent::config_builder()
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("cnetstat/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .tls_config(self.tls.clone())
            .timeout_global(Some(remaining))
            .build()
            .into();
        let mut request = agent.get(&url);
        if let KubeAuth::Token(token) = &self.access.auth {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request.call().map_err(|error| self.failed(&url, error))?;
        let status = response.status();
        let body = response.into_body();
        if !status.is_success() {
            return Err(KubeError::Status {
                url,
                code: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_string(),
                message: error_message(body),
            });
        }
        let reader = BufReader::with_capacity(
            64 << 10,
            body.into_with_config().limit(MAX_LIST_BYTES).reader(),
        );
        read_list(reader, kind).map_err(|error| {
            if error.is_io() {
                self.failed(&url, ureq::Error::from(io::Error::from(error)))
            } else {
                KubeError::Decode {
                    url,
                    problem: error.to_string(),
                }
            }
        })
    }

    fn failed(&self, url: &str, error: ureq::Error) -> KubeError {
        let url = url.to_string();
        match error {
            ureq::Error::Timeout(_) => KubeError::TimedOut {
                url,
                deadline: self.deadline,
            },
            ureq::Error::BodyExceedsLimit(limit) => KubeError::TooLarge { url, limit },
            error => KubeError::Request { url, error },
        }
    }
}

/// The `message` of the `Status` object the API server sends with an
/// error; empty if the body is something else (a proxy's error page).
fn error_message(body: ureq::Body) -> String {
    #[derive(Deserialize)]
    struct Status {
        message: Option<String>,
    }
    body.into_with_config()
        .limit(MAX_ERROR_BODY_BYTES)
        .read_to_vec()
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Status>(&bytes).ok())
        .and_then(|status| status.message)
        .unwrap_or_default()
}

#[derive(Debug)]
pub enum KubeError {
    /// A file the source names could not be read.
    Read {
        path: PathBuf,
        error: io::Error,
    },
    Kubeconfig(KubeconfigError),
    /// Not running in a pod: a service-account variable is unset.
    NotInCluster {
        missing: &'static str,
    },
    /// None of [`KUBELET_KUBECONFIGS`] exists under the root.
    NoKubeletKubeconfig {
        root: PathBuf,
    },
    /// The source gave something that cannot be used: a server that is not
    /// an https URL, a token no header can carry, a CA bundle without a
    /// certificate, a client certificate TLS would refuse.
    Unusable {
        source: String,
        problem: String,
    },
    TimedOut {
        url: String,
        deadline: Duration,
    },
    /// Connecting, TLS (a server the CA does not vouch for) or HTTP failed.
    Request {
        url: String,
        error: ureq::Error,
    },
    /// The API server answered with an error, e.g. 403 when the credentials
    /// may not list this resource.
    Status {
        url: String,
        code: u16,
        reason: String,
        message: String,
    },
    TooLarge {
        url: String,
        limit: u64,
    },
    /// The body is not the JSON list asked for.
    Decode {
        url: String,
        problem: String,
    },
}

impl fmt::Display for KubeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KubeError::Read { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            KubeError::Kubeconfig(err) => err.fmt(f),
            KubeError::NotInCluster { missing } => write!(
                f,
                "in-cluster service account: {missing} is not set (cnetstat is not running in a pod)"
            ),
            KubeError::NoKubeletKubeconfig { root } => write!(
                f,
                "no kubelet kubeconfig under {} (looked for {})",
                root.display(),
                KUBELET_KUBECONFIGS.join(", ")
            ),
            KubeError::Unusable { source, problem } => write!(f, "{source}: {problem}"),
            KubeError::TimedOut { url, deadline } => {
                write!(f, "GET {url}: no complete answer within the {deadline:?} allowed")
            }
            KubeError::Request { url, error } => write!(f, "GET {url}: {error}"),
            KubeError::Status { url, code, reason, message } => {
                write!(f, "GET {url}: {code} {reason}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            KubeError::TooLarge { url, limit } => write!(
                f,
                "GET {url}: the answer is larger than {} MiB, the most cnetstat reads",
                limit >> 20
            ),
            KubeError::Decode { url, problem } => write!(f, "GET {url}: {problem}"),
        }
    }
}

impl std::error::Error for KubeError {}

// Tokens and keys are secrets: Debug shows their size only.
impl fmt::Debug for KubeAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeAccess")
            .field("server", &self.server)
            .field("ca_pem", &format_args!("{} bytes", self.ca_pem.len()))
            .field("auth", &self.auth)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Debug for KubeAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KubeAuth::Token(token) => write!(f, "Token({} bytes)", token.len()),
            KubeAuth::ClientCert { cert_pem, key_pem } => write!(
                f,
                "ClientCert {{ cert_pem: {} bytes, key_pem: {} bytes }}",
                cert_pem.len(),
                key_pem.len()
            ),
            KubeAuth::None => f.write_str("None"),
        }
    }
}

// The shapes below are the Kubernetes core/v1 API's (PodList, ServiceList,
// NodeList), reduced to the fields cnetstat keeps; serde skips the rest as
// it streams past. Fields Go omits when empty are optional here.

/// The items of the list JSON `reader` streams, which must be of `kind`:
/// a proxy's or another server's JSON is an error, not an empty list.
fn read_list<T: DeserializeOwned>(reader: impl io::Read, kind: &str) -> serde_json::Result<Vec<T>> {
    let list: List<T> = serde_json::from_reader(reader)?;
    if list.kind != kind {
        return Err(de::Error::custom(format!(
            "expected a {kind}, got kind \"{}\"",
            list.kind
        )));
    }
    Ok(list.items)
}

#[derive(Deserialize)]
#[serde(bound = "T: Deserialize<'de>")]
struct List<T> {
    kind: String,
    #[serde(deserialize_with = "bounded_items")]
    items: Vec<T>,
}

/// `items`, at most MAX_LIST_ITEMS of them; `null` (how Go writes an empty
/// slice) is none.
fn bounded_items<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    struct Bounded<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list of at most {MAX_LIST_ITEMS} items")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element()? {
                if items.len() == MAX_LIST_ITEMS {
                    return Err(de::Error::custom(format!(
                        "the list has more than {MAX_LIST_ITEMS} items, the most cnetstat keeps"
                    )));
                }
                items.push(item);
            }
            Ok(items)
        }
    }
    d.deserialize_any(Bounded(PhantomData))
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
    namespace: Option<String>,
}

#[derive(Deserialize)]
struct Pod {
    metadata: Metadata,
    spec: Option<PodSpec>,
    status: Option<PodStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    node_name: Option<String>,
    host_network: Option<bool>,
}

#[derive(Deserialize)]
struct PodStatus {
    phase: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pod_ips: Option<Vec<PodIp>>,
}

#[derive(Deserialize)]
struct PodIp {
    ip: String,
}

impl Pod {
    fn into_remote(self) -> Option<RemotePod> {
        let status = self.status.unwrap_or(PodStatus {
            phase: None,
            pod_ip: None,
            pod_ips: None,
        });
        if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
            return None;
        }
        let listed: Vec<String> = status
            .pod_ips
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.ip)
            .collect();
        let ips = if listed.is_empty() {
            status.pod_ip.into_iter().collect()
        } else {
            listed
        };
        let spec = self.spec.unwrap_or(PodSpec {
            node_name: None,
            host_network: None,
        });
        Some(RemotePod {
            namespace: self.metadata.namespace.unwrap_or_default(),
            name: self.metadata.name,
            ips: addresses(ips),
            node: spec.node_name.filter(|node| !node.is_empty()),
            host_network: spec.host_network.unwrap_or(false),
        })
    }
}

#[derive(Deserialize)]
struct Service {
    metadata: Metadata,
    spec: Option<ServiceSpec>,
    status: Option<ServiceStatus>,
}

#[derive(Deserialize)]
struct ServiceSpec {
    #[serde(rename = "clusterIP")]
    cluster_ip: Option<String>,
    #[serde(rename = "clusterIPs")]
    cluster_ips: Option<Vec<String>>,
    #[serde(rename = "externalIPs")]
    external_ips: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ServiceStatus {
    #[serde(rename = "loadBalancer")]
    load_balancer: Option<LoadBalancerStatus>,
}

#[derive(Deserialize)]
struct LoadBalancerStatus {
    ingress: Option<Vec<LoadBalancerIngress>>,
}

#[derive(Deserialize)]
struct LoadBalancerIngress {
    ip: Option<String>,
}

impl Service {
    fn into_remote(self) -> RemoteService {
        let spec = self.spec.unwrap_or(ServiceSpec {
            cluster_ip: None,
            cluster_ips: None,
            external_ips: None,
        });
        let listed = spec.cluster_ips.unwrap_or_default();
        let cluster_ips = if listed.is_empty() {
            spec.cluster_ip.into_iter().collect()
        } else {
            listed
        };
        let ingress = self
            .status
            .and_then(|status| status.load_balancer)
            .and_then(|lb| lb.ingress)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|ingress| ingress.ip);
        let external_ips = spec
            .external_ips
            .unwrap_or_default()
            .into_iter()
            .chain(ingress)
            .collect();
        RemoteService {
            namespace: self.metadata.namespace.unwrap_or_default(),
            name: self.metadata.name,
            // Headless Services say "None" where the address would be,
            // which `addresses` drops as it drops anything not an IP.
            cluster_ips: addresses(cluster_ips),
            external_ips: addresses(external_ips),
        }
    }
}

#[derive(Deserialize)]
struct Node {
    metadata: Metadata,
    status: Option<NodeStatus>,
}

#[derive(Deserialize)]
struct NodeStatus {
    addresses: Option<Vec<NodeAddress>>,
}

#[derive(Deserialize)]
struct NodeAddress {
    #[serde(rename = "type")]
    kind: String,
    address: String,
}

impl Node {
    fn into_remote(self) -> RemoteNode {
        let addresses_of_ip_type = self
            .status
            .and_then(|status| status.addresses)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.kind == "InternalIP" || a.kind == "ExternalIP")
            .map(|a| a.address)
            .collect();
        RemoteNode {
            name: self.metadata.name,
            addresses: addresses(addresses_of_ip_type),
        }
    }
}

/// The strings that are IP addresses. The API server validates addresses
/// when objects are written, so one that does not parse comes from a
/// server cnetstat cannot fix; it is dropped so the rest of the list still
/// names what it can.
fn addresses(texts: Vec<String>) -> Vec<IpAddr> {
    texts.iter().filter_map(|text| text.parse().ok()).collect()
}

#[cfg(test)]
mod test_pki;
#[cfg(test)]
mod tests;
