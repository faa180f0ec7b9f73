//! The real binary against Docker daemons that misbehave: each test runs
//! `cnetstat --proc testdata/node/proc --root testdata/node -a --format
//! json` with DOCKER_HOST on a fake daemon of its own, and checks that
//! cnetstat ends within its Docker deadline plus a second, peaks within
//! 64 MiB, exits 0 with the recorded node's ten sockets (their container
//! ids from cgroups), and says in exactly one warning line what the daemon
//! did, naming it.
//!
//! Peak memory is the cnetstat process's own `ru_maxrss`, read by
//! `wait4(2)`. A child spawned from this harness would not do: exec(2)
//! records the high-water mark of the memory it replaces, which for a
//! vfork'd (posix_spawn) child is this harness's. So cnetstat is started by
//! `sh -c '… &'`, a small process it is forked from, and is reaped here as
//! an orphan: this process is made a child subreaper.
//!
//! Each case prints one line, `hostile-docker: <case> | <wall s> | <peak
//! MiB> | <warning>`, for the table in src/names/docker.rs (`cargo test
//! --test hostile_docker -- --nocapture`; with CNETSTAT_BIN=<path>, of
//! another build of cnetstat).

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Once;
use std::time::{Duration, Instant};

use common::fake_docker::{Behavior, FakeDocker, FullBacklog};
use serde_json::Value;

/// cnetstat gives up on Docker by 6 s: the call's 5 s deadline, plus the
/// second its waiting thread allows. A second more for the rest of the run.
const MAX_WALL: Duration = Duration::from_secs(7);
const MAX_RSS_MIB: f64 = 64.0;

const CLIENT_ID: &str = "a565b5f861556d6a5a1dbc94603af5fc0f2ce469272f3aa11c5294b4bc2cc799";
const SERVER_ID: &str = "86c2fed3242841e658e438b699b6e461f49be092bfc41b257af4203e98479d95";
const CACHE_ID: &str = "10d74c5eb6a22652857628518d052d0887372c292bb83786ec7ac4bab0bd236d";

fn node() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/node")
}

/// A fresh directory for one case's socket and output, removed on drop.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("cnetstat-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// The binary under test: this build's, or the one CNETSTAT_BIN names
/// (to measure a release build with the same cases).
fn binary() -> PathBuf {
    std::env::var_os("CNETSTAT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_cnetstat")))
}

/// One run of cnetstat.
struct Run {
    wall: Duration,
    peak_mib: f64,
    exit: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs cnetstat on the recorded node against the Docker socket `socket`,
/// from a grandchild, and reaps it here for its own rusage.
fn run_cnetstat(socket: &Path, dir: &Path) -> Run {
    static SUBREAPER: Once = Once::new();
    SUBREAPER.call_once(|| {
        // SAFETY: prctl(2) with integer arguments only.
        let set = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(set, 0, "{}", std::io::Error::last_os_error());
    });
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let started = Instant::now();
    let shell = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"out=$1 err=$2; shift 2; "$@" >"$out" 2>"$err" </dev/null & echo $!"#)
        .arg("sh")
        .args([&out, &err])
        .arg(binary())
        .arg("--proc")
        .arg(node().join("proc"))
        .arg("--root")
        .arg(node())
        .args(["-a", "--format", "json"])
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .env_remove("DOCKER_TLS_VERIFY")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(shell.status.success(), "{shell:?}");
    let pid: libc::pid_t = String::from_utf8_lossy(&shell.stdout)
        .trim()
        .parse()
        .unwrap();
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: all zeroes is a valid rusage.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4(2) with pointers to locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(
            reaped >= 0,
            "wait4 {pid}: {}",
            std::io::Error::last_os_error()
        );
        if reaped == pid {
            break (status, usage);
        }
        if started.elapsed() > Duration::from_secs(30) {
            // SAFETY: kill(2) of our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("cnetstat still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed();
    let read = |path: &Path| String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    Run {
        wall,
        // Linux counts ru_maxrss in KiB.
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        exit: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: read(&out),
        stderr: read(&err),
    }
}

/// The docker warning lines of a run's stderr.
fn docker_warnings(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|line| line.contains("docker"))
        .collect()
}

/// Runs cnetstat against `socket` and checks what every case must hold;
/// gives the one docker warning, or None when there is none and every
/// owner is named.
fn check(case: &str, socket: &Path, dir: &Path) -> Option<String> {
    let run = run_cnetstat(socket, dir);
    let warnings = docker_warnings(&run);
    eprintln!(
        "hostile-docker: {case} | {:.2} | {:.1} | {}",
        run.wall.as_secs_f64(),
        run.peak_mib,
        warnings.first().copied().unwrap_or("(none)")
    );
    assert!(run.wall <= MAX_WALL, "{case}: {:?}", run.wall);
    assert!(
        run.peak_mib <= MAX_RSS_MIB,
        "{case}: {:.1} MiB",
        run.peak_mib
    );
    assert_eq!(run.exit, Some(0), "{case}: {}", run.stderr);
    assert!(warnings.len() <= 1, "{case}: {}", run.stderr);
    let rows: Vec<Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 10, "{case}: {}", run.stdout);
    let by_port = |port: u64| {
        rows.iter()
            .find(|row| row["local_port"] == port)
            .unwrap_or_else(|| panic!("{case}: no socket on port {port}"))
    };
    let (client, cache) = (by_port(41414), by_port(6379));
    assert_eq!(client["container_id"], CLIENT_ID, "{case}");
    assert_eq!(client["pid"], 14646, "{case}");
    assert_eq!(cache["container_id"], CACHE_ID, "{case}");
    assert_eq!(by_port(8080)["container_id"], SERVER_ID, "{case}");
    let Some(warning) = warnings.first() else {
        // Docker answered: every owner is named.
        assert_eq!(client["container"], "client", "{case}");
        assert_eq!(client["pod"], "cart-0", "{case}");
        assert_eq!(cache["container"], "cnetstat-fixture-cache", "{case}");
        return None;
    };
    assert!(
        warning.starts_with(&format!(
            "cnetstat: warning: docker: unix://{}: ",
            socket.display()
        )),
        "{case}: {warning}"
    );
    assert!(
        warning.ends_with("; Docker containers are shown by id only (6 sockets without a name)"),
        "{case}: {warning}"
    );
    assert!(rows.iter().all(|row| row["container"].is_null()), "{case}");
    assert!(rows.iter().all(|row| row["pod"].is_null()), "{case}");
    Some(warning.to_string())
}

/// Checks a case that must fail with one warning saying `says`.
fn check_warns(case: &str, socket: &Path, dir: &Path, says: &str) -> String {
    let warning = check(case, socket, dir).unwrap_or_else(|| panic!("{case}: no warning"));
    assert!(
        warning.contains(says),
        "{case}: {warning}\nshould say: {says}"
    );
    warning
}

/// A fake daemon answering with `script`.
fn scripted(
    dir: &Path,
    script: impl Fn(&str, &mut UnixStream, &AtomicBool) + Send + Sync + 'static,
) -> FakeDocker {
    FakeDocker::start(dir, Behavior::Script(Box::new(script))).unwrap()
}

fn is_ping(head: &str) -> bool {
    head.starts_with("GET /_ping ")
}

const PING: &[u8] = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK";

/// The head of a chunked answer.
const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
    Transfer-Encoding: chunked\r\n\r\n";

/// Writes `data` as one chunk.
fn write_chunk(stream: &mut UnixStream, data: &[u8]) -> std::io::Result<()> {
    stream.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    stream.write_all(data)?;
    stream.write_all(b"\r\n")
}

/// Answers the ping, then the list with `list(stream)`.
fn list_daemon(
    dir: &Path,
    list: impl Fn(&mut UnixStream) -> std::io::Result<()> + Send + Sync + 'static,
) -> FakeDocker {
    scripted(dir, move |head, stream, _| {
        let _ = if is_ping(head) {
            stream.write_all(PING)
        } else {
            list(stream)
        };
    })
}

/// The recorded list's entries (the node's own containers), as JSON text.
fn recorded_entries() -> Vec<String> {
    let answer = std::fs::read(node().join("docker-containers.http")).unwrap();
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let rest = &answer[head_end..];
    let size_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
    let size = usize::from_str_radix(std::str::from_utf8(&rest[..size_end]).unwrap(), 16).unwrap();
    let body = &rest[size_end + 2..size_end + 2 + size];
    let Value::Array(entries) = serde_json::from_slice(body).unwrap() else {
        panic!("not a list")
    };
    entries.iter().map(Value::to_string).collect()
}

/// A container summary as dockerd 20.10 writes it for a dockershim pod's
/// app container: 16 labels, 1.6 KiB. `n` makes its id, names and pod
/// unique.
fn summary(n: usize) -> String {
    let uid = format!("{n:08x}-5088-4e64-a8f6-6f838b61517a");
    let (namespace, pod, container) = (
        format!("team-{}", n % 97),
        format!("web-{n}-7c5ddbdf54-x2x9q"),
        format!("app-{}", n % 3),
    );
    format!(
        r#"{{"Id":"{n:064x}","Names":["/k8s_{container}_{pod}_{namespace}_{uid}_0"],"Image":"sha256:a640e7f73f368a38003ca00eaf0d08c278128a147be68c79b3e0d48d5e7298ef","ImageID":"sha256:a640e7f73f368a38003ca00eaf0d08c278128a147be68c79b3e0d48d5e7298ef","Command":"/docker-entrypoint.sh nginx -g 'daemon off;'","Created":1764000000,"Ports":[],"Labels":{{"annotation.io.kubernetes.container.hash":"a8f0e7a1","annotation.io.kubernetes.container.restartCount":"0","annotation.io.kubernetes.container.terminationMessagePath":"/dev/termination-log","annotation.io.kubernetes.container.terminationMessagePolicy":"File","annotation.io.kubernetes.pod.terminationGracePeriod":"30","io.kubernetes.container.logpath":"/var/log/pods/{namespace}_{pod}_{uid}/{container}/0.log","io.kubernetes.container.name":"{container}","io.kubernetes.docker.type":"container","io.kubernetes.pod.name":"{pod}","io.kubernetes.pod.namespace":"{namespace}","io.kubernetes.pod.uid":"{uid}","io.kubernetes.sandbox.id":"{n:064x}","maintainer":"NGINX Docker Maintainers <docker-maint@nginx.com>","app.kubernetes.io/name":"web","app.kubernetes.io/part-of":"shop","pod-template-hash":"7c5ddbdf54"}},"State":"running","Status":"Up 3 days","HostConfig":{{"NetworkMode":"container:{n:064x}"}},"NetworkSettings":{{"Networks":{{}}}},"Mounts":[{{"Type":"bind","Source":"/var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~projected/kube-api-access-x2x9q","Destination":"/var/run/secrets/kubernetes.io/serviceaccount","Mode":"ro","RW":false,"Propagation":"rprivate"}}]}}"#
    )
}

/// The entry that costs cnetstat the most memory: every string it keeps
/// (id, container name, pod namespace, name and uid) as long as it keeps,
/// 256 bytes, and unique, so that each pod is another pod too.
fn costliest(n: usize) -> String {
    let long = |what: &str| format!("{what}-{n:x<250}");
    format!(
        r#"{{"Id":"{}","Names":["/n"],"Labels":{{"io.kubernetes.container.name":"{}","io.kubernetes.pod.namespace":"{}","io.kubernetes.pod.name":"{}","io.kubernetes.pod.uid":"{}"}}}}"#,
        long("id"),
        long("ctr"),
        long("ns"),
        long("pod"),
        long("uid")
    )
}

/// Streams a list, chunked: `[`, then `entries(n)` for n from 0 until it
/// gives None or the client goes, then `]`.
fn stream_list(
    stream: &mut UnixStream,
    entries: impl Fn(usize) -> Option<String>,
) -> std::io::Result<()> {
    stream.write_all(CHUNKED)?;
    let mut chunk = b"[".to_vec();
    let mut n = 0;
    while let Some(entry) = entries(n) {
        if n > 0 {
            chunk.push(b',');
        }
        chunk.extend_from_slice(entry.as_bytes());
        n += 1;
        if chunk.len() >= 64 << 10 {
            write_chunk(stream, &chunk)?;
            chunk.clear();
        }
    }
    chunk.push(b']');
    write_chunk(stream, &chunk)?;
    stream.write_all(b"0\r\n\r\n")
}

#[test]
fn a_daemon_that_drips_a_byte_every_100_ms() {
    let dir = temp_dir("drip");
    let fake = scripted(&dir, |_, stream, _| {
        for byte in PING {
            std::thread::sleep(Duration::from_millis(100));
            if stream.write_all(&[*byte]).is_err() {
                return;
            }
        }
    });
    let warning = check_warns(
        "drips a byte every 100 ms",
        fake.socket(),
        &dir,
        "GET /_ping: the answer's head was still arriving at the 5s deadline, ",
    );
    assert!(
        warning.contains(" bytes so far (the daemon sends too slowly)"),
        "{warning}"
    );
}

#[test]
fn a_daemon_that_hangs_after_accept() {
    let dir = temp_dir("hang");
    let fake = FakeDocker::start(&dir, Behavior::Hang).unwrap();
    check_warns(
        "hangs after accept",
        fake.socket(),
        &dir,
        "GET /_ping: no answer within 5s: connected, but the daemon sent nothing",
    );
}

#[test]
fn a_daemon_that_never_accepts() {
    let dir = temp_dir("backlog");
    let socket = dir.join("docker.sock");
    let _backlog = FullBacklog::bind(&socket).unwrap();
    check_warns(
        "never accepts (full backlog)",
        &socket,
        &dir,
        "no answer within 5s: connect did not complete (the daemon is not accepting connections)",
    );
}

#[test]
fn a_daemon_that_stops_mid_answer() {
    let dir = temp_dir("stops");
    let fake = scripted(&dir, |head, stream, stop| {
        if is_ping(head) {
            let _ = stream.write_all(PING);
            return;
        }
        let half = format!("[{},{}", summary(0), summary(1));
        if stream.write_all(CHUNKED).is_err() || write_chunk(stream, half.as_bytes()).is_err() {
            return;
        }
        // Then nothing, until cnetstat has gone.
        let mut byte = [0];
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            match std::io::Read::read(stream, &mut byte) {
                Ok(0) => return,
                _ => continue,
            }
        }
    });
    check_warns(
        "stops mid-answer",
        fake.socket(),
        &dir,
        "GET /v1.41/containers/json?all=1: the daemon stopped mid-answer: ",
    );
}

#[test]
fn a_daemon_that_sends_the_list_too_slowly() {
    // 16 KiB a second: 1.6 MiB, a thousand containers, would take 100 s.
    let dir = temp_dir("slow");
    let fake = list_daemon(&dir, |stream| {
        stream.write_all(CHUNKED)?;
        stream.write_all(b"1\r\n[\r\n")?;
        for n in 0..1000 {
            let entry = format!("{}{}", if n > 0 { "," } else { "" }, summary(n));
            for piece in entry.as_bytes().chunks(160) {
                std::thread::sleep(Duration::from_millis(10));
                write_chunk(stream, piece)?;
            }
        }
        Ok(())
    });
    check_warns(
        "sends the list at 16 KiB/s",
        fake.socket(),
        &dir,
        "GET /v1.41/containers/json?all=1: the answer was still arriving at the 5s deadline, ",
    );
}

#[test]
fn a_daemon_that_sends_endless_headers() {
    let dir = temp_dir("headers");
    let fake = scripted(&dir, |_, stream, _| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n");
        for n in 0.. {
            let line = format!("X-Header-{n}: {}\r\n", "v".repeat(100));
            if stream.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
    });
    check_warns(
        "endless header lines",
        fake.socket(),
        &dir,
        "GET /_ping: more than 100 lines in the headers",
    );
    drop(fake);

    let dir = temp_dir("header-line");
    let fake = scripted(&dir, |_, stream, _| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nX-Endless: ");
        let block = [b'a'; 64 << 10];
        while stream.write_all(&block).is_ok() {}
    });
    check_warns(
        "one endless header line",
        fake.socket(),
        &dir,
        "GET /_ping: a line of the headers longer than 8192 bytes (\"X-Endless: aaaa",
    );
}

#[test]
fn a_daemon_that_streams_an_enormous_body() {
    // 512 MiB of 100 KiB entries, each with 2000 labels, made as sent.
    let dir = temp_dir("enormous");
    let fake = list_daemon(&dir, |stream| {
        let labels: Vec<String> = (0..2000)
            .map(|i| format!(r#""label-{i}":"{}""#, "v".repeat(40)))
            .collect();
        let entry = format!(r#"{{"Id":"0123","Labels":{{{}}}}}"#, labels.join(","));
        let count = (512 << 20) / entry.len();
        stream_list(stream, |n| (n < count).then(|| entry.clone()))
    });
    check_warns(
        "enormous body (512 MiB streamed)",
        fake.socket(),
        &dir,
        "GET /v1.41/containers/json?all=1: response larger than 64 MiB",
    );
}

#[test]
fn a_daemon_that_sends_bad_chunk_sizes() {
    for (size, says) in [
        (
            "fffffffffffffffffffff",
            "malformed chunk \"fffffffffffffffffffff\"",
        ),
        ("-1", "malformed chunk \"-1\""),
        ("10000000000000000", "malformed chunk \"10000000000000000\""),
        ("7fffffffffffffff", "response larger than 64 MiB"),
    ] {
        let dir = temp_dir(&format!("chunk{size}"));
        let fake = list_daemon(&dir, move |stream| {
            stream.write_all(CHUNKED)?;
            stream.write_all(format!("{size}\r\n[{{\"Id\":\"a\"}}]").as_bytes())
        });
        check_warns(
            &format!("chunk size {size}"),
            fake.socket(),
            &dir,
            &format!("GET /v1.41/containers/json?all=1: {says}"),
        );
    }
}

#[test]
fn a_daemon_that_nests_json_deeply() {
    for (case, body, says) in [
        (
            "100 000 `[`",
            "[".repeat(100_000),
            "entry 1 at byte 1 is not an object",
        ),
        (
            "100 000 `[` in an entry",
            format!(r#"[{{"Id":"a","Labels":{}"#, "[".repeat(100_000)),
            "entry 1 nests deeper than 64 levels at byte 83",
        ),
    ] {
        let dir = temp_dir("nesting");
        let fake = list_daemon(&dir, move |stream| {
            stream.write_all(CHUNKED)?;
            write_chunk(stream, body.as_bytes())?;
            stream.write_all(b"0\r\n\r\n")
        });
        check_warns(
            &format!("deep nesting: {case}"),
            fake.socket(),
            &dir,
            &format!("GET /v1.41/containers/json?all=1: not a container list: {says}"),
        );
    }
}

/// Like a Docker 29 daemon: it refuses API versions below 1.44, and lists
/// the recorded node's containers to the others.
fn versioned_daemon(dir: &Path, version: &'static [u8]) -> FakeDocker {
    let list = std::fs::read(node().join("docker-containers.http")).unwrap();
    scripted(dir, move |head, stream, _| {
        if is_ping(head) {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nApi-Version:");
            let _ = stream.write_all(version);
            let _ = stream.write_all(b"\r\nContent-Length: 2\r\n\r\nOK");
            return;
        }
        let minor: Option<u32> = head
            .strip_prefix("GET /v1.")
            .and_then(|rest| rest.split('/').next())
            .and_then(|minor| minor.parse().ok());
        if minor.is_some_and(|minor| minor >= 44) {
            let _ = stream.write_all(&list);
        } else {
            let refusal = format!(
                r#"{{"message":"client version {} is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version"}}"#,
                head.split('/')
                    .nth(1)
                    .unwrap_or("?")
                    .trim_start_matches('v')
            );
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{refusal}",
                refusal.len()
            );
        }
    })
}

#[test]
fn a_daemon_with_an_absurd_api_version() {
    // Too large for any integer: newer than ours, so ours is asked for.
    let dir = temp_dir("version-huge");
    let fake = versioned_daemon(&dir, b" 99999999999999999999.1");
    let case = "Api-Version 99999999999999999999.1";
    assert_eq!(check(case, fake.socket(), &dir), None);
    assert!(fake.requests()[1].starts_with("GET /v1.56/containers/json?all=1 "));
    drop(fake);

    for (case, version, shown) in [
        ("Api-Version 1.", &b" 1."[..], "1."),
        ("Api-Version empty", b"", ""),
        ("Api-Version non-ASCII", " １.４４".as_bytes(), "１.４４"),
        (
            "Api-Version not UTF-8",
            b" 1.\xff\xfe",
            "1.\u{fffd}\u{fffd}",
        ),
    ] {
        let dir = temp_dir("version");
        let fake = versioned_daemon(&dir, version);
        check_warns(
            case,
            fake.socket(),
            &dir,
            &format!(
                "GET /v1.24/containers/json?all=1: HTTP 400: client version 1.24 is too old. \
                 Minimum supported API version is 1.44, please upgrade your client to a newer \
                 version (the daemon's Api-Version \"{shown}\" is not a version, so 1.24 was \
                 asked for)"
            ),
        );
    }
}

#[test]
fn a_daemon_that_lists_a_million_containers() {
    // 1.6 KiB each, 1.6 GB in all: past the container cap at 16 MiB.
    let dir = temp_dir("million");
    let fake = list_daemon(&dir, |stream| {
        stream_list(stream, |n| (n < 1_000_000).then(|| summary(n)))
    });
    check_warns(
        "a million containers",
        fake.socket(),
        &dir,
        "GET /v1.41/containers/json?all=1: the list holds more than 10000 containers, \
         more than cnetstat keeps (stopped at byte ",
    );
}

/// The largest lists cnetstat takes: as many containers as it keeps, the
/// node's own among them, realistic or each as costly as can be.
#[test]
fn a_list_at_the_container_cap_is_named() {
    type Filler = fn(usize) -> String;
    for (case, filler) in [
        ("10 000 containers, the cap", summary as Filler),
        ("10 000 containers, kept strings 256 bytes", costliest),
    ] {
        let dir = temp_dir("cap");
        let fake = list_daemon(&dir, move |stream| {
            let ours = recorded_entries();
            let fillers = 10_000 - ours.len();
            stream_list(stream, |n| {
                if n < fillers {
                    Some(filler(n))
                } else {
                    ours.get(n - fillers).cloned()
                }
            })
        });
        assert_eq!(check(case, fake.socket(), &dir), None, "{case}");
    }
}

/// The answer that cost cnetstat 0.1 over 1.5 GB: a list under the byte
/// cap whose every label and name is another small allocation if kept.
/// Now only the few used are, and the list is named.
#[test]
fn a_list_of_tiny_labels_under_the_cap_is_named() {
    let dir = temp_dir("tiny");
    let fake = list_daemon(&dir, |stream| {
        // 1 MiB entries: 1000 link aliases, 90 000 empty labels.
        let names: Vec<String> = (0..1000).map(|i| format!(r#""/a{i}/x""#)).collect();
        let labels: Vec<String> = (0..90_000).map(|i| format!(r#""l{i}":"""#)).collect();
        let (names, labels) = (names.join(","), labels.join(","));
        let ours = recorded_entries();
        stream_list(stream, |n| match n {
            0..30 => Some(format!(
                r#"{{"Id":"{n:064x}","Names":[{names}],"Labels":{{{labels}}}}}"#
            )),
            _ => ours.get(n - 30).cloned(),
        })
    });
    assert_eq!(
        check("30 MiB of 1 MiB entries, tiny labels", fake.socket(), &dir),
        None
    );
}
