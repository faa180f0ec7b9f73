//! `list_cluster` against an HTTPS server (tests/kube_api_server.py, on an
//! ephemeral port of 127.0.0.1) with its own CA from `test_pki`, serving
//! the hand-written lists of testdata/kube, and against servers that fail
//! in every way the module promises to survive. Each failure is checked to
//! come back within the deadline plus a second.

use std::cell::RefCell;
use std::io::{BufRead, BufReader as LineReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::test_pki::{self, ACCEPTED_CLIENT_PAIRS, CLIENT_NAME, KUBELET_NAME, PKI_DIR_VAR};
use super::*;

const TOKEN: &str = "cnetstat-test-token";
const DEADLINE: Duration = Duration::from_millis(1500);
const SLACK: Duration = Duration::from_secs(1);

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/kube")
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// What testdata/kube's lists name, read off the files by hand.
fn expected_pods() -> Vec<RemotePod> {
    let pod =
        |namespace: &str, name: &str, ips: &[&str], node: Option<&str>, host_network| RemotePod {
            namespace: namespace.into(),
            name: name.into(),
            ips: ips.iter().map(|i| ip(i)).collect(),
            node: node.map(Into::into),
            host_network,
        };
    vec![
        pod(
            "shop",
            "web-7d4b9c8f6d-x2x9k",
            &["10.244.1.17", "fd00:10:244:1::17"],
            Some("node-a"),
            false,
        ),
        pod(
            "kube-system",
            "kube-proxy-9xk2p",
            &["192.0.2.21", "2001:db8::21"],
            Some("node-a"),
            true,
        ),
        pod("batch", "report-28559220-abcde", &[], None, false),
        // Not the Succeeded report-28559160-xk2lm that had this IP before.
        pod("shop", "cart-0", &["10.244.2.30"], Some("node-b"), false),
    ]
}

fn expected_services() -> Vec<RemoteService> {
    let service =
        |name: &str, namespace: &str, cluster: &[&str], external: &[&str]| RemoteService {
            namespace: namespace.into(),
            name: name.into(),
            cluster_ips: cluster.iter().map(|i| ip(i)).collect(),
            external_ips: external.iter().map(|i| ip(i)).collect(),
        };
    vec![
        service("kubernetes", "default", &["10.96.0.1"], &[]),
        service("web", "shop", &["10.96.12.34", "fd00:10:96::1234"], &[]),
        service("cart-headless", "shop", &[], &[]),
        service("payments", "shop", &[], &[]),
        service(
            "front",
            "shop",
            &["10.96.40.2"],
            &["198.51.100.7", "203.0.113.80"],
        ),
    ]
}

fn expected_nodes() -> Vec<RemoteNode> {
    vec![
        RemoteNode {
            name: "node-a".into(),
            addresses: vec![ip("192.0.2.21"), ip("2001:db8::21"), ip("203.0.113.21")],
        },
        RemoteNode {
            name: "node-b".into(),
            addresses: vec![ip("192.0.2.22")],
        },
    ]
}

fn fixture_list<T: DeserializeOwned>(name: &str, kind: &str) -> Vec<T> {
    let body = std::fs::read(testdata().join(name)).unwrap();
    read_list(body.as_slice(), kind).unwrap()
}

#[test]
fn list_fixtures_parse_to_the_names_they_hold() {
    let pods: Vec<RemotePod> = fixture_list::<Pod>("pods.json", "PodList")
        .into_iter()
        .filter_map(Pod::into_remote)
        .collect();
    assert_eq!(pods, expected_pods());
    let services: Vec<RemoteService> = fixture_list::<Service>("services.json", "ServiceList")
        .into_iter()
        .map(Service::into_remote)
        .collect();
    assert_eq!(services, expected_services());
    let nodes: Vec<RemoteNode> = fixture_list::<Node>("nodes.json", "NodeList")
        .into_iter()
        .map(Node::into_remote)
        .collect();
    assert_eq!(nodes, expected_nodes());
}

#[test]
fn a_list_of_another_kind_or_with_null_items_is_told_apart() {
    let body = std::fs::read(testdata().join("pods.json")).unwrap();
    let Err(err) = read_list::<Node>(body.as_slice(), "NodeList") else {
        panic!("read")
    };
    assert!(
        err.to_string()
            .contains("expected a NodeList, got kind \"PodList\""),
        "{err}"
    );
    let empty: Vec<Pod> = read_list(&br#"{"kind":"PodList","items":null}"#[..], "PodList").unwrap();
    assert!(empty.is_empty());
    let Err(err) = read_list::<Pod>(&br#"{"kind":"PodList"}"#[..], "PodList") else {
        panic!("read")
    };
    assert!(err.to_string().contains("missing field `items`"), "{err}");
}

#[test]
fn a_list_of_more_items_than_kept_is_an_error() {
    let list = |count: usize| {
        let items = vec![r#"{"metadata":{"name":""}}"#; count].join(",");
        format!(r#"{{"kind":"PodList","items":[{items}]}}"#)
    };
    let full: Vec<Pod> = read_list(list(MAX_LIST_ITEMS).as_bytes(), "PodList").unwrap();
    assert_eq!(full.len(), MAX_LIST_ITEMS);
    let Err(err) = read_list::<Pod>(list(MAX_LIST_ITEMS + 1).as_bytes(), "PodList") else {
        panic!("read")
    };
    assert!(
        err.to_string()
            .starts_with("the list has more than 100000 items, the most cnetstat keeps"),
        "{err}"
    );
}

/// tests/kube_api_server.py, stopped when dropped.
struct ApiServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ApiServer {
    fn start(mode: &str, server_cert: &str, options: &[&str]) -> ApiServer {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pki = test_pki::dir();
        let log = pki.join(format!("server-{serial}.log"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kube_api_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--mode", mode, "--token", TOKEN, "--lifetime", "60"])
            .arg("--cert")
            .arg(pki.join(server_cert))
            .arg("--key")
            .arg(pki.join("server.key"))
            .arg("--ca")
            .arg(pki.join("ca.pem"))
            .arg("--fixtures")
            .arg(testdata())
            .arg("--log")
            .arg(&log)
            .args(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot run python3 ({err}): the Kubernetes API tests run their HTTPS server with it")
            });
        let mut first_line = String::new();
        LineReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let port = first_line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("kube_api_server.py --mode {mode} did not start (said {first_line:?})")
        });
        ApiServer { child, port, log }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn access(&self, auth: KubeAuth) -> KubeAccess {
        KubeAccess {
            server: self.url(),
            ca_pem: test_pki::read("ca.pem"),
            auth,
            source: "test access".into(),
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_cert() -> KubeAuth {
    KubeAuth::ClientCert {
        cert_pem: test_pki::read("client.pem"),
        key_pem: test_pki::read("client.key"),
    }
}

fn token(token: &str) -> KubeAuth {
    KubeAuth::Token(token.into())
}

/// `list_cluster`, checked to return within its deadline plus a second.
fn list_timed(access: &KubeAccess, deadline: Duration) -> (ClusterNames, Duration) {
    let started = Instant::now();
    let names = list_cluster(access, deadline);
    let took = started.elapsed();
    assert!(
        took <= deadline + SLACK,
        "took {took:?} with a deadline of {deadline:?}: {names:?}"
    );
    (names, took)
}

fn assert_everything_named(names: &ClusterNames) {
    assert!(names.problems.is_empty(), "{:?}", names.problems);
    assert_eq!(names.pods, expected_pods());
    assert_eq!(names.services, expected_services());
    assert_eq!(names.nodes, expected_nodes());
}

/// The server's log, checked to hold exactly one GET of each list.
fn assert_one_call_each(server: &ApiServer, auth: &str) {
    let log = server.log();
    let mut gets: Vec<&str> = log.lines().filter(|l| l.starts_with("GET ")).collect();
    gets.sort();
    let headers = concat!(
        "accept=application/json agent=cnetstat/",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        gets,
        [
            format!("GET /api/v1/nodes auth={auth} {headers}"),
            format!("GET /api/v1/pods?resourceVersion=0 auth={auth} {headers}"),
            format!("GET /api/v1/services auth={auth} {headers}"),
        ],
        "{log}"
    );
}

#[test]
fn lists_everything_with_a_client_certificate() {
    let server = ApiServer::start("https", "server.pem", &[]);
    let (names, _) = list_timed(&server.access(client_cert()), DEADLINE);
    assert_everything_named(&names);
    assert_one_call_each(&server, &format!("cert:{CLIENT_NAME}"));
}

#[test]
fn lists_everything_with_a_bearer_token() {
    let server = ApiServer::start("https", "server.pem", &[]);
    let (names, _) = list_timed(&server.access(token(TOKEN)), DEADLINE);
    assert_everything_named(&names);
    assert_one_call_each(&server, "token");
}

#[test]
fn an_endless_deadline_is_taken_as_an_hour() {
    let server = ApiServer::start("https", "server.pem", &[]);
    let names = list_cluster(&server.access(token(TOKEN)), Duration::MAX);
    assert_everything_named(&names);
}

#[test]
fn a_wrong_token_is_401_on_every_list() {
    let server = ApiServer::start("https", "server.pem", &[]);
    let (names, _) = list_timed(&server.access(token("wrong")), DEADLINE);
    assert!(names.pods.is_empty() && names.services.is_empty() && names.nodes.is_empty());
    assert_eq!(names.problems.len(), 3, "{:?}", names.problems);
    for problem in &names.problems {
        assert!(
            matches!(problem, KubeError::Status { code: 401, message, .. } if message == "Unauthorized"),
            "{problem:?}"
        );
        assert!(
            problem
                .to_string()
                .ends_with(": 401 Unauthorized: Unauthorized"),
            "{problem}"
        );
    }
}

#[test]
fn a_forbidden_list_is_a_problem_while_the_others_return() {
    let server = ApiServer::start("https", "server.pem", &["--forbid", "/api/v1/nodes"]);
    let (names, _) = list_timed(&server.access(client_cert()), DEADLINE);
    assert_eq!(names.pods, expected_pods());
    assert_eq!(names.services, expected_services());
    assert!(names.nodes.is_empty());
    let [problem] = names.problems.as_slice() else {
        panic!("{:?}", names.problems)
    };
    assert!(
        matches!(problem, KubeError::Status { code: 403, .. }),
        "{problem:?}"
    );
    assert_eq!(
        problem.to_string(),
        format!(
            "GET {}/api/v1/nodes: 403 Forbidden: nodes is forbidden: User \"system:node:node-a\" \
             cannot list resource \"nodes\" in API group \"\" at the cluster scope",
            server.url()
        )
    );
}

#[test]
fn a_redirect_is_not_followed() {
    let server = ApiServer::start("https", "server.pem", &["--redirect", "/api/v1/nodes"]);
    let (names, _) = list_timed(&server.access(token(TOKEN)), DEADLINE);
    assert_eq!(names.pods, expected_pods());
    assert!(names.nodes.is_empty());
    let [problem] = names.problems.as_slice() else {
        panic!("{:?}", names.problems)
    };
    assert!(
        matches!(problem, KubeError::Status { code: 302, .. }),
        "{problem:?}"
    );
    assert_eq!(
        problem.to_string(),
        format!("GET {}/api/v1/nodes: 302 Found", server.url())
    );
}

const PROXY_CHILD_URL_VAR: &str = "CNETSTAT_KUBE_PROXY_CHILD_URL";

/// A node's HTTPS_PROXY is for its workloads; cluster credentials must not
/// go through it. Run in a child process, whose environment is its own.
#[test]
fn the_environments_proxy_is_not_used() {
    let server = ApiServer::start("https", "server.pem", &[]);
    // Port 9 (discard) has no listener here: a proxied call would fail.
    let dead_proxy = "http://127.0.0.1:9";
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "names::kube_api::tests::proxy_env_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(PROXY_CHILD_URL_VAR, server.url())
        .env(PKI_DIR_VAR, test_pki::dir())
        .env("HTTPS_PROXY", dead_proxy)
        .env("https_proxy", dead_proxy)
        .env("ALL_PROXY", dead_proxy)
        .env("NO_PROXY", "")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("proxy child: listed"));
    assert_one_call_each(&server, "token");
}

#[test]
#[ignore = "run by the_environments_proxy_is_not_used in a child process"]
fn proxy_env_child() {
    let Ok(url) = std::env::var(PROXY_CHILD_URL_VAR) else {
        return;
    };
    let access = KubeAccess {
        server: url,
        ca_pem: test_pki::read("ca.pem"),
        auth: token(TOKEN),
        source: "test".into(),
    };
    let (names, _) = list_timed(&access, DEADLINE);
    assert_everything_named(&names);
    println!("proxy child: listed");
}

#[test]
fn a_server_certificate_from_another_ca_is_refused() {
    let server = ApiServer::start("https", "other-server.pem", &[]);
    let (names, _) = list_timed(&server.access(token(TOKEN)), DEADLINE);
    assert!(names.pods.is_empty() && names.services.is_empty() && names.nodes.is_empty());
    assert_eq!(names.problems.len(), 3, "{:?}", names.problems);
    for problem in &names.problems {
        assert!(matches!(problem, KubeError::Request { .. }), "{problem:?}");
        assert!(problem.to_string().contains("UnknownIssuer"), "{problem}");
    }
    // The token never went to the impostor.
    assert!(!server.log().contains("GET"), "{}", server.log());
}

#[test]
fn invalid_json_is_a_problem_of_that_list_only() {
    let server = ApiServer::start("https", "server.pem", &["--invalid-json", "/api/v1/pods"]);
    let (names, _) = list_timed(&server.access(token(TOKEN)), DEADLINE);
    assert_eq!(names.services, expected_services());
    assert_eq!(names.nodes, expected_nodes());
    let [problem] = names.problems.as_slice() else {
        panic!("{:?}", names.problems)
    };
    assert!(matches!(problem, KubeError::Decode { .. }), "{problem:?}");
    assert!(
        problem
            .to_string()
            .contains("/api/v1/pods?resourceVersion=0: EOF while parsing"),
        "{problem}"
    );
}

/// A server that fails in `mode` costs the whole deadline and no more, and
/// every list reports `expected`.
fn assert_every_list_fails(mode: &str, expected: fn(&KubeError) -> bool) {
    let server = ApiServer::start(mode, "server.pem", &[]);
    let (names, took) = list_timed(&server.access(token(TOKEN)), DEADLINE);
    assert!(names.pods.is_empty() && names.services.is_empty() && names.nodes.is_empty());
    assert_eq!(names.problems.len(), 3, "{mode}: {:?}", names.problems);
    for problem in &names.problems {
        assert!(expected(problem), "{mode}: {problem:?}");
    }
    if names
        .problems
        .iter()
        .all(|p| matches!(p, KubeError::TimedOut { .. }))
    {
        assert!(
            took >= DEADLINE - Duration::from_millis(100),
            "{mode}: gave up after {took:?}"
        );
    }
}

fn timed_out(problem: &KubeError) -> bool {
    matches!(problem, KubeError::TimedOut { deadline, .. } if *deadline == DEADLINE)
        && problem
            .to_string()
            .contains("no complete answer within the 1.5s allowed")
}

#[test]
fn a_server_that_accepts_and_never_answers_times_out() {
    assert_every_list_fails("hang", timed_out);
}

#[test]
fn a_server_that_drips_its_body_times_out() {
    assert_every_list_fails("drip", timed_out);
}

#[test]
fn a_listener_that_never_accepts_times_out() {
    assert_every_list_fails("never-accept", timed_out);
}

#[test]
fn garbage_instead_of_http_or_tls_is_a_request_error() {
    for mode in ["tls-garbage", "tcp-garbage"] {
        assert_every_list_fails(mode, |problem| matches!(problem, KubeError::Request { .. }));
    }
}

const HUGE_URL_VAR: &str = "CNETSTAT_KUBE_HUGE_URL";

#[test]
fn a_500_mb_body_fails_at_the_cap_with_memory_bounded() {
    let server = ApiServer::start("https", "server.pem", &["--huge", "/api/v1/pods"]);
    // A child process, so its peak memory is this list's alone.
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "names::kube_api::tests::huge_body_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(HUGE_URL_VAR, server.url())
        .env(PKI_DIR_VAR, test_pki::dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result = stdout
        .lines()
        .find_map(|l| l.strip_prefix("huge body: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let peak_kib: u64 = result
        .split("peak_rss_kib=")
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Parsed as it streams: far below the 64 MiB cap, let alone 500 MB.
    assert!(peak_kib < 48 << 10, "peak RSS {peak_kib} KiB: {result}");

    // The server got to send the cap and what the sockets buffer, not 500 MB.
    let started = Instant::now();
    let sent = loop {
        if let Some(sent) = server
            .log()
            .lines()
            .find_map(|l| l.strip_prefix("huge sent=").map(str::to_string))
        {
            break sent.parse::<u64>().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(sent < 100_000_000, "the server sent {sent} bytes");
}

/// Run by the test above in a child process; does nothing on its own.
#[test]
#[ignore = "run by a_500_mb_body_fails_at_the_cap_with_memory_bounded in a child process"]
fn huge_body_child() {
    let Ok(url) = std::env::var(HUGE_URL_VAR) else {
        return;
    };
    let access = KubeAccess {
        server: url,
        ca_pem: test_pki::read("ca.pem"),
        auth: token(TOKEN),
        source: "test".into(),
    };
    // Reading 64 MiB takes ~0.3 s in a release build and ~3 s in this debug
    // one; the generous deadline makes sure it is the cap that stops it.
    let deadline = Duration::from_secs(20);
    let (names, took) = list_timed(&access, deadline);
    assert_eq!(names.services, expected_services());
    assert_eq!(names.nodes, expected_nodes());
    let [problem] = names.problems.as_slice() else {
        panic!("{:?}", names.problems)
    };
    assert!(
        matches!(
            problem,
            KubeError::TooLarge {
                limit: MAX_LIST_BYTES,
                ..
            }
        ),
        "{problem:?}"
    );
    assert!(
        problem
            .to_string()
            .ends_with("the answer is larger than 64 MiB, the most cnetstat reads"),
        "{problem}"
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap();
    let peak_kib = peak.trim().trim_end_matches("kB").trim();
    println!("huge body: took={took:?} peak_rss_kib={peak_kib}");
}

#[test]
fn every_key_form_the_client_certificate_check_accepts_authenticates() {
    let server = ApiServer::start("https", "server.pem", &[]);
    for (cert, key) in ACCEPTED_CLIENT_PAIRS {
        let auth = KubeAuth::ClientCert {
            cert_pem: test_pki::read(cert),
            key_pem: test_pki::read(key),
        };
        let (names, _) = list_timed(&server.access(auth), DEADLINE);
        assert!(
            names.problems.is_empty(),
            "{cert} + {key}: {:?}",
            names.problems
        );
        assert_eq!(names.nodes, expected_nodes(), "{cert} + {key}");
    }
    let log = server.log();
    assert_eq!(
        log.lines().filter(|l| l.contains("auth=cert:")).count(),
        3 * ACCEPTED_CLIENT_PAIRS.len(),
        "{log}"
    );
}

#[test]
fn a_client_key_that_does_not_fit_its_certificate_is_an_error_not_a_panic() {
    let server = ApiServer::start("https", "server.pem", &[]);
    let auth = KubeAuth::ClientCert {
        cert_pem: test_pki::read("client.pem"),
        key_pem: test_pki::read("kubelet.key"),
    };
    let (names, _) = list_timed(&server.access(auth), DEADLINE);
    let [problem] = names.problems.as_slice() else {
        panic!("{:?}", names.problems)
    };
    assert_eq!(
        problem.to_string(),
        "test access: the client key does not belong to the client certificate"
    );
    assert!(server.log().is_empty(), "{}", server.log());
}

#[test]
fn access_that_is_not_https_or_has_a_bad_token_is_refused_before_any_call() {
    let cases = [
        (
            "http://127.0.0.1:1",
            token(TOKEN),
            "is not an https:// URL with a host",
        ),
        (
            "https://user@127.0.0.1:1",
            token(TOKEN),
            "is not an https:// URL with a host",
        ),
        (
            "https://127.0.0.1:1",
            token("two\nlines"),
            "characters an HTTP header cannot carry",
        ),
    ];
    for (server, auth, expected) in cases {
        let access = KubeAccess {
            server: server.into(),
            ca_pem: test_pki::read("ca.pem"),
            auth,
            source: "x".into(),
        };
        let (names, _) = list_timed(&access, DEADLINE);
        let [problem @ KubeError::Unusable { .. }] = names.problems.as_slice() else {
            panic!("{:?}", names.problems)
        };
        assert!(problem.to_string().contains(expected), "{problem}");
    }
}

/// A node filesystem under a temporary root, read the way the caller reads
/// a host path: inside the root. Records what was asked for.
struct NodeRoot {
    dir: PathBuf,
    asked: RefCell<Vec<PathBuf>>,
}

impl NodeRoot {
    fn new(name: &str) -> NodeRoot {
        let dir = test_pki::dir().join(format!("root-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        NodeRoot {
            dir,
            asked: RefCell::new(Vec::new()),
        }
    }

    fn put(&self, host_path: &str, contents: &[u8]) {
        let path = self.dir.join(host_path.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    fn read(&self, host_path: &Path) -> io::Result<Vec<u8>> {
        self.asked.borrow_mut().push(host_path.to_path_buf());
        assert!(host_path.is_absolute(), "{}", host_path.display());
        std::fs::read(self.dir.join(host_path.strip_prefix("/").unwrap()))
    }
}

fn kubelet_kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority: /etc/kubernetes/pki/ca.crt\n    \
         server: {server}\n  name: default-cluster\ncontexts:\n- context:\n    cluster: default-cluster\n    \
         user: default-auth\n  name: default-context\ncurrent-context: default-context\nkind: Config\n\
         users:\n- name: default-auth\n  user:\n    \
         client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    \
         client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n"
    )
}

#[test]
fn the_kubelets_credentials_under_a_root_list_the_cluster() {
    let server = ApiServer::start("https", "server.pem", &[]);
    let root = NodeRoot::new("k3s-layout");
    root.put(
        "/var/lib/rancher/k3s/agent/kubelet.kubeconfig",
        kubelet_kubeconfig(&server.url()).as_bytes(),
    );
    root.put("/etc/kubernetes/pki/ca.crt", &test_pki::read("ca.pem"));
    root.put(
        "/var/lib/kubelet/pki/kubelet-client-current.pem",
        &test_pki::read("kubelet-client-current.pem"),
    );

    let source = KubeSource::KubeletUnderRoot("/host".into());
    let access = resolve_access(&source, &|path: &Path| root.read(path)).unwrap();
    assert_eq!(access.server, server.url());
    assert_eq!(
        access.source,
        "kubelet kubeconfig /host/var/lib/rancher/k3s/agent/kubelet.kubeconfig (context default-context)"
    );
    // The candidates in order up to the first that exists, then the files
    // it names, all as host paths.
    let asked: Vec<PathBuf> = root.asked.borrow().clone();
    let mut expected: Vec<PathBuf> = KUBELET_KUBECONFIGS[..4].iter().map(PathBuf::from).collect();
    expected.extend(["/var/lib/kubelet/pki/kubelet-client-current.pem"; 2].map(PathBuf::from));
    expected.push("/etc/kubernetes/pki/ca.crt".into());
    assert_eq!(asked, expected);

    let (names, _) = list_timed(&access, DEADLINE);
    assert_everything_named(&names);
    assert_one_call_each(&server, &format!("cert:{KUBELET_NAME}"));
}

#[test]
fn a_kubeconfig_with_inline_ca_and_a_token_file_lists_the_cluster() {
    let server = ApiServer::start("https", "server.pem", &[]);
    let dir = test_pki::dir().join("kubeconfig-inline");
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    std::fs::write(dir.join("tokens/viewer"), format!("{TOKEN}\n")).unwrap();
    let ca = String::from_utf8(test_pki::read("ca.pem.b64")).unwrap();
    let kubeconfig = format!(
        "{{\"current-context\": \"c\", \"contexts\": [{{\"name\": \"c\", \"context\": {{\"cluster\": \"k\", \"user\": \"u\"}}}}], \
         \"clusters\": [{{\"name\": \"k\", \"cluster\": {{\"server\": \"{}/\", \"certificate-authority-data\": \"{ca}\"}}}}], \
         \"users\": [{{\"name\": \"u\", \"user\": {{\"tokenFile\": \"tokens/viewer\"}}}}]}}",
        server.url()
    );
    let path = dir.join("config");
    std::fs::write(&path, kubeconfig).unwrap();

    let access = resolve_access(&KubeSource::Kubeconfig(path.clone()), &|p: &Path| {
        std::fs::read(p)
    })
    .unwrap();
    assert_eq!(access.server, server.url(), "the trailing slash is dropped");
    assert_eq!(
        access.source,
        format!("kubeconfig {} (context c)", path.display())
    );
    assert!(
        matches!(&access.auth, KubeAuth::Token(t) if t == TOKEN),
        "{access:?}"
    );
    let (names, _) = list_timed(&access, DEADLINE);
    assert_everything_named(&names);
    assert_one_call_each(&server, "token");
}

#[test]
fn a_missing_kubeconfig_is_named() {
    let source = KubeSource::Kubeconfig("/nonexistent/config".into());
    let err = resolve_access(&source, &|p: &Path| std::fs::read(p)).unwrap_err();
    assert!(
        matches!(&err, KubeError::Read { path, .. } if path == Path::new("/nonexistent/config")),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/config: "),
        "{err}"
    );
}

#[test]
fn kubelet_sources_that_cannot_be_used_say_why() {
    let nothing = NodeRoot::new("empty");
    let err = resolve_access(
        &KubeSource::KubeletUnderRoot("/host".into()),
        &|p: &Path| nothing.read(p),
    )
    .unwrap_err();
    assert!(
        matches!(&err, KubeError::NoKubeletKubeconfig { root } if root == Path::new("/host")),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(
            "no kubelet kubeconfig under /host (looked for /etc/kubernetes/kubelet.conf, "
        ),
        "{err}"
    );

    let denied = |path: &Path| -> io::Result<Vec<u8>> {
        assert_eq!(path, Path::new(KUBELET_KUBECONFIGS[0]));
        Err(io::Error::from(io::ErrorKind::PermissionDenied))
    };
    let err = resolve_access(&KubeSource::KubeletUnderRoot("/host".into()), &denied).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read /host/etc/kubernetes/kubelet.conf: permission denied"),
        "{err}"
    );

    let exec = std::fs::read(testdata().join("eks-exec.yaml")).unwrap();
    let root = NodeRoot::new("eks");
    root.put("/var/lib/kubelet/kubeconfig", &exec);
    let err = resolve_access(&KubeSource::KubeletUnderRoot("/".into()), &|p: &Path| {
        root.read(p)
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("kubeconfig /var/lib/kubelet/kubeconfig, line 18: user \"arn:aws:eks:"),
        "{err}"
    );

    let root = NodeRoot::new("half");
    root.put(
        "/etc/kubernetes/kubelet.conf",
        kubelet_kubeconfig("https://127.0.0.1:1").as_bytes(),
    );
    root.put("/etc/kubernetes/pki/ca.crt", &test_pki::read("ca.pem"));
    root.put(
        "/var/lib/kubelet/pki/kubelet-client-current.pem",
        &test_pki::read("kubelet.pem"),
    );
    let err = resolve_access(
        &KubeSource::KubeletUnderRoot("/host".into()),
        &|p: &Path| root.read(p),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "kubelet kubeconfig /host/etc/kubernetes/kubelet.conf (context default-context): \
         the client key file holds no PEM private key"
    );
}

#[test]
fn in_cluster_access_reads_the_service_account() {
    let files = |path: &Path| -> io::Result<Vec<u8>> {
        match path.to_str().unwrap() {
            "/var/run/secrets/kubernetes.io/serviceaccount/token" => Ok(b"  sa-token\n".to_vec()),
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" => Ok(b"CA".to_vec()),
            other => panic!("read {other}"),
        }
    };
    let env = |name: &str| match name {
        "KUBERNETES_SERVICE_HOST" => Some("fd00:10:96::1".to_string()),
        "KUBERNETES_SERVICE_PORT" => Some("443".to_string()),
        _ => None,
    };
    let access = in_cluster(&env, &files).unwrap();
    assert_eq!(access.server, "https://[fd00:10:96::1]:443");
    assert_eq!(access.ca_pem, b"CA");
    assert!(
        matches!(&access.auth, KubeAuth::Token(t) if t == "sa-token"),
        "{access:?}"
    );
    assert_eq!(access.source, "in-cluster service account");

    let v4 = |name: &str| {
        env(name).map(|v| {
            if v.contains(':') {
                "10.96.0.1".into()
            } else {
                v
            }
        })
    };
    assert_eq!(
        in_cluster(&v4, &files).unwrap().server,
        "https://10.96.0.1:443"
    );

    let err = in_cluster(&|_| None, &files).unwrap_err();
    assert!(
        matches!(
            err,
            KubeError::NotInCluster {
                missing: "KUBERNETES_SERVICE_HOST"
            }
        ),
        "{err:?}"
    );
    let empty_token = |path: &Path| {
        if path.ends_with("token") {
            Ok(b"\n".to_vec())
        } else {
            files(path)
        }
    };
    let err = in_cluster(&env, &empty_token).unwrap_err();
    assert_eq!(
        err.to_string(),
        "in-cluster service account: token file /var/run/secrets/kubernetes.io/serviceaccount/token is empty"
    );
}

#[test]
fn kubeconfig_variable_gives_its_first_file() {
    let first = KubeSource::from_kubeconfig_var("::/a/config:/b/config".as_ref());
    assert_eq!(first, Some(KubeSource::Kubeconfig("/a/config".into())));
    assert_eq!(KubeSource::from_kubeconfig_var("".as_ref()), None);
}

#[test]
fn debug_output_hides_secrets() {
    let access = KubeAccess {
        server: "https://x".into(),
        ca_pem: vec![0; 3],
        auth: KubeAuth::ClientCert {
            cert_pem: vec![0; 4],
            key_pem: b"secret".to_vec(),
        },
        source: "s".into(),
    };
    assert_eq!(
        format!("{access:?}"),
        "KubeAccess { server: \"https://x\", ca_pem: 3 bytes, auth: ClientCert { cert_pem: 4 bytes, key_pem: 6 bytes }, source: \"s\" }"
    );
    assert_eq!(format!("{:?}", token("secret")), "Token(6 bytes)");
}
