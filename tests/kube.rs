//! `--kube` through the binary: a live run on this machine whose Kubernetes
//! API is tests/kube_api_server.py over HTTPS with its own CA (no cluster
//! runs here; its lists are the hand-written testdata/kube files, shaped as
//! the API documents them). A working API ends up in the snapshot; every
//! failure is one warning within the deadline, and the listing is complete
//! otherwise. Naming from those lists is unit-tested in analyze/remote.rs.

#[path = "../src/names/kube_api/test_pki.rs"]
#[allow(dead_code)] // shared with the unit tests, which use all of it
mod test_pki;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const TOKEN: &str = "cnetstat-binary-test-token";
/// cnetstat's deadline for credentials and all three lists.
const DEADLINE: Duration = Duration::from_secs(3);

struct ApiServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ApiServer {
    fn start(test: &str, mode: &str, options: &[&str]) -> ApiServer {
        let pki = test_pki::dir();
        let log = pki.join(format!("binary-{test}.log"));
        let _ = std::fs::remove_file(&log);
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new("python3")
            .arg(root.join("tests/kube_api_server.py"))
            .args(["--mode", mode, "--token", TOKEN, "--lifetime", "60"])
            .arg("--cert")
            .arg(pki.join("server.pem"))
            .arg("--key")
            .arg(pki.join("server.key"))
            .arg("--ca")
            .arg(pki.join("ca.pem"))
            .arg("--fixtures")
            .arg(root.join("testdata/kube"))
            .arg("--log")
            .arg(&log)
            .args(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the stand-in API server");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port = first
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the API server did not start: {first:?}"));
        ApiServer { child, port, log }
    }

    /// A kubeconfig for this server, trusting `ca`.
    fn kubeconfig(&self, test: &str, ca: &str) -> PathBuf {
        let pki = test_pki::dir();
        let path = pki.join(format!("binary-{test}.kubeconfig"));
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
             clusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:{}\n    \
             certificate-authority: {}\n\
             users:\n- name: test\n  user:\n    token: {TOKEN}\n\
             contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n",
            self.port,
            pki.join(ca).display()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn requests(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `cnetstat --kubeconfig FILE --record - ARGS`, timed: the snapshot, the
/// warnings, and how long it took.
fn record_with(kubeconfig: &Path) -> (Value, Vec<String>, Duration) {
    let started = Instant::now();
    let output: Output = Command::new(env!("CARGO_BIN_EXE_cnetstat"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--record", "-"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let snapshot: Value = serde_json::from_slice(&output.stdout).unwrap();
    let kube_warnings = stderr
        .lines()
        .filter(|line| line.contains("--kube"))
        .map(str::to_owned)
        .collect();
    (snapshot, kube_warnings, took)
}

fn names(list: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_working_api_is_listed_once_and_recorded() {
    if !is_root() {
        eprintln!("SKIP: a live run needs root");
        return;
    }
    let server = ApiServer::start("working", "https", &[]);
    let (snapshot, warnings, _) = record_with(&server.kubeconfig("working", "ca.pem"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let cluster = &snapshot["cluster"];
    // testdata/kube/pods.json: six pods, of which one Succeeded and one
    // Failed, whose addresses may already be another pod's.
    assert_eq!(
        names(&cluster["pods"]),
        [
            "cart-0",
            "kube-proxy-9xk2p",
            "report-28559220-abcde",
            "web-7d4b9c8f6d-x2x9k"
        ]
    );
    assert_eq!(cluster["services"].as_array().unwrap().len(), 5);
    assert_eq!(names(&cluster["nodes"]).len(), 2);
    // One GET each, with the token.
    let log = server.requests();
    for path in ["/api/v1/pods", "/api/v1/services", "/api/v1/nodes"] {
        assert_eq!(log.matches(path).count(), 1, "{path} in {log}");
    }
}

#[test]
fn every_failure_is_one_warning_within_the_deadline_and_the_rest_is_listed() {
    if !is_root() {
        eprintln!("SKIP: a live run needs root");
        return;
    }
    // A 500 MB body stops at the 64 MiB cap, or at the deadline where the
    // server sends it more slowly than that (a debug build parses slowly).
    let cases: [(&str, &str, &[&str], &str, &[&str]); 5] = [
        (
            "forbidden",
            "https",
            &["--forbid", "/api/v1/pods"],
            "ca.pem",
            &["403"],
        ),
        (
            "wrong-ca",
            "https",
            &[],
            "other-ca.pem",
            &["https://127.0.0.1"],
        ),
        ("hang", "hang", &[], "ca.pem", &["no complete answer"]),
        (
            "garbage",
            "tcp-garbage",
            &[],
            "ca.pem",
            &["https://127.0.0.1"],
        ),
        (
            "huge",
            "https",
            &["--huge", "/api/v1/pods"],
            "ca.pem",
            &["larger than 64 MiB", "no complete answer"],
        ),
    ];
    for (test, mode, options, ca, says) in cases {
        let server = ApiServer::start(test, mode, options);
        let (snapshot, warnings, took) = record_with(&server.kubeconfig(test, ca));
        assert!(
            took < DEADLINE + Duration::from_secs(3),
            "{test}: took {took:?}"
        );
        assert!(
            !warnings.is_empty()
                && warnings
                    .iter()
                    .all(|w| says.iter().any(|said| w.contains(said))),
            "{test}: {warnings:?}"
        );
        // The node was read as ever.
        assert!(
            !snapshot["namespaces"].as_array().unwrap().is_empty(),
            "{test}"
        );
        if test == "forbidden" {
            // The lists that worked still name what they can.
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(snapshot["cluster"]["pods"].as_array().unwrap().is_empty());
            assert_eq!(names(&snapshot["cluster"]["nodes"]).len(), 2);
        }
    }
}

#[test]
fn without_credentials_the_sources_tried_are_one_warning() {
    if !is_root() {
        eprintln!("SKIP: a live run needs root");
        return;
    }
    let empty_root = test_pki::dir().join("binary-empty-root");
    std::fs::create_dir_all(&empty_root).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_cnetstat"))
        .arg("--kube")
        .arg("--root")
        .arg(&empty_root)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("--kube")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("no kubelet kubeconfig under")
            && warnings[0].contains("KUBERNETES_SERVICE_HOST is not set"),
        "{}",
        warnings[0]
    );
}
