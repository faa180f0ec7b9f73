//! Input cnetstat does not control, on the recorded node of tests/fixture.rs
//! (testdata/node) copied and spoiled: special files where procfs or a
//! runtime has regular ones, files over their cap, a line that is not a
//! socket, a namespace link that cannot be read, names made of invisible
//! characters. Each must cost seconds, never a hang, and lose no more than
//! it must, with a warning that says so.

// Shared with tests/fixture.rs, which uses the rest of it.
#[allow(dead_code)]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::fake_docker::{Behavior, FakeDocker};
use serde_json::Value;

const CLIENT_ID: &str = "a565b5f861556d6a5a1dbc94603af5fc0f2ce469272f3aa11c5294b4bc2cc799";

/// A copy of testdata/node to spoil, removed when dropped.
struct Node(PathBuf);

impl Node {
    fn copy(tag: &str) -> Node {
        let dir =
            std::env::temp_dir().join(format!("cnetstat-hostile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let status = Command::new("cp")
            .arg("-a")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/node"))
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
        Node(dir)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.0.join(relative)
    }

    fn fifo(&self, relative: &str) {
        let path = self.path(relative);
        let _ = std::fs::remove_file(&path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    }

    fn link(&self, relative: &str, target: &str) {
        let path = self.path(relative);
        let _ = std::fs::remove_file(&path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    fn write(&self, relative: &str, bytes: &[u8]) {
        let path = self.path(relative);
        let _ = std::fs::remove_file(&path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn docker(&self) -> FakeDocker {
        let read = |name: &str| std::fs::read(self.path(name)).unwrap();
        let answer = Behavior::Answer {
            ping: read("docker-ping.http"),
            other: read("docker-containers.http"),
        };
        FakeDocker::start(&self.0, answer).unwrap()
    }

    /// cnetstat on this node; it must end within a few seconds.
    fn run(&self, docker: &FakeDocker, args: &[&str]) -> Output {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_cnetstat"))
            .arg("--proc")
            .arg(self.path("proc"))
            .arg("--root")
            .arg(&self.0)
            .args(args)
            .env(
                "DOCKER_HOST",
                format!("unix://{}", docker.socket().display()),
            )
            .output()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rows(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn special_and_oversized_files_in_proc_cost_no_hang_and_say_what_is_lost() {
    let node = Node::copy("proc");
    let docker = node.docker();
    // The pod's lowest pid has a FIFO for its table: the next process of
    // the namespace answers instead, so nothing of the pod is lost.
    node.fifo("proc/13260/net/tcp");
    // Every process of the cache's namespace has one: it cannot be read.
    for pid in ["13568", "13600", "13701"] {
        node.fifo(&format!("proc/{pid}/net/tcp6"));
    }
    // A device for a namespace's counters (makes one as root; mknod needs it).
    let sockstat = node.path("proc/13260/net/sockstat");
    let c_path = std::ffi::CString::new(sockstat.as_os_str().as_encoded_bytes()).unwrap();
    let is_root = unsafe { libc::geteuid() } == 0;
    if is_root {
        // The device numbers of /dev/zero.
        assert_eq!(
            unsafe { libc::mknod(c_path.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 5)) },
            0
        );
    }
    // A link to a device for a name, a cgroup far over its cap.
    node.link("proc/14646/comm", "/dev/zero");
    node.write("proc/13375/cgroup", &vec![b'x'; 100 << 10]);
    let output = node.run(&docker, &["-a", "--format", "json"]);
    let rows = rows(&output);
    let stderr = stderr(&output);
    // The pod's 8 sockets; the cache's 2 are the ones lost.
    assert_eq!(rows.len(), 8, "{rows:#?}");
    assert!(
        stderr.contains("network namespace 4026532481 could not be read (/proc/13600/ns/net")
            || stderr.contains("network namespace 4026532481 could not be read ("),
        "{stderr}"
    );
    assert!(
        stderr.contains("not a regular file but a named pipe (FIFO)"),
        "{stderr}"
    );
    // The cgroup over its cap and the comm link: skipped, and counted.
    assert!(
        stderr.contains("2 process files are not what procfs has there"),
        "{stderr}"
    );
    assert!(
        stderr.contains("those processes hold 2 sockets"),
        "{stderr}"
    );
    let listener = rows.iter().find(|r| r["local_port"] == 8080).unwrap();
    assert_eq!(
        (&listener["pid"], &listener["container"]),
        (&Value::from(13375), &Value::Null)
    );
    let client = rows.iter().find(|r| r["local_port"] == 41414).unwrap();
    assert_eq!(
        (&client["process"], &client["container"]),
        (&Value::from("?"), &Value::from("client"))
    );
}

#[test]
fn special_and_oversized_files_under_the_root_cost_no_hang() {
    let node = Node::copy("root");
    let docker = node.docker();
    let bundles = "run/containerd/io.containerd.runtime.v2.task/k8s.io";
    let id = |c: char| c.to_string().repeat(64);
    node.fifo(&format!("{bundles}/{}/config.json", id('a')));
    // Resolved inside the root, /dev/zero is a file the root does not have.
    node.link(&format!("{bundles}/{}/config.json", id('b')), "/dev/zero");
    node.write(
        &format!("{bundles}/{}/config.json", id('c')),
        &vec![b' '; 9 << 20],
    );
    node.fifo("var/lib/containers/storage/overlay-containers/containers.json");
    node.fifo("var/log/pods");
    let output = node.run(&docker, &["-a", "--format", "json"]);
    assert_eq!(rows(&output).len(), 10);
    let stderr = stderr(&output);
    for expected in [
        format!(
            "{}/config.json: not a regular file but a named pipe (FIFO)",
            id('a')
        ),
        format!(
            "{}/config.json: larger than 8 MiB, more than any real one: skipped",
            id('c')
        ),
        "containers.json: not a regular file but a named pipe (FIFO)".to_owned(),
        "1 more runtime file could not be read or parsed".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "{expected}: {stderr}");
    }
    assert!(!stderr.contains(&id('b')), "{stderr}");
}

#[test]
fn a_line_that_is_not_a_socket_skips_only_itself() {
    let node = Node::copy("line");
    let docker = node.docker();
    for pid in [
        "13260", "13355", "13375", "13376", "14625", "14645", "14646", "14647",
    ] {
        let path = node.path(&format!("proc/{pid}/net/tcp"));
        let mut table = std::fs::read(&path).unwrap();
        table.extend_from_slice(b"  99: this is not a socket\n");
        std::fs::write(&path, table).unwrap();
    }
    let output = node.run(&docker, &["-a", "--format", "json"]);
    // Every socket, tcp6 included, is still listed.
    assert_eq!(rows(&output).len(), 10);
    let stderr = stderr(&output);
    assert!(
        stderr.contains(
            "1 line of socket tables is not a socket and was skipped: 1 socket missing (first: "
        ),
        "{stderr}"
    );
    assert!(stderr.contains("/proc/13260/net/tcp line 7)"), "{stderr}");
}

#[test]
fn unreadable_namespace_links_in_a_recorded_tree_list_no_socket_twice() {
    let node = Node::copy("links");
    let docker = node.docker();
    // One process of the pod whose link cannot be read: it joins the
    // namespace its identical tables say it is in.
    node.write("proc/13355/ns/net", b"");
    let output = node.run(&docker, &["-a", "--format", "json"]);
    let listed = rows(&output);
    assert_eq!(listed.len(), 10, "{listed:#?}");
    // Every process of the pod hidden: the pod is read once, netns unknown.
    for pid in [
        "13260", "13375", "13376", "14625", "14645", "14646", "14647",
    ] {
        node.write(&format!("proc/{pid}/ns/net"), b"");
    }
    let listed = rows(&node.run(&docker, &["-a", "--format", "json"]));
    let pod: Vec<&Value> = listed.iter().filter(|r| r["netns"].is_null()).collect();
    assert_eq!(pod.len(), 8, "{pod:#?}");
    assert_eq!(listed.len(), 10);
    let time_waits = pod.iter().filter(|r| r["state"] == "TIME_WAIT").count();
    assert_eq!(time_waits, 4);
}

/// Unicode categories Cc, Cf, Zl and Zp, as an oracle independent of the
/// escaper: every one must be escaped wherever it is printed.
fn is_invisible(c: char) -> bool {
    let c = c as u32;
    [
        (0x00, 0x1f),
        (0x7f, 0x9f),
        (0xad, 0xad),
        (0x600, 0x605),
        (0x61c, 0x61c),
        (0x6dd, 0x6dd),
        (0x70f, 0x70f),
        (0x890, 0x891),
        (0x8e2, 0x8e2),
        (0x180e, 0x180e),
        (0x200b, 0x200f),
        (0x2028, 0x202e),
        (0x2060, 0x2064),
        (0x2066, 0x206f),
        (0xfeff, 0xfeff),
        (0xfff9, 0xfffb),
        (0x110bd, 0x110bd),
        (0x110cd, 0x110cd),
        (0x13430, 0x1343f),
        (0x1bca0, 0x1bca3),
        (0x1d173, 0x1d17a),
        (0xe0001, 0xe0001),
        (0xe0020, 0xe007f),
    ]
    .iter()
    .any(|&(first, last)| (first..=last).contains(&c))
}

#[test]
fn names_of_every_invisible_class_are_escaped_byte_by_byte() {
    let node = Node::copy("names");
    let container = "cl\u{202e}ient\u{2028}\u{2029}\u{ad}\u{200b}\u{200d}\u{2066}\u{feff}\u{e0041}\u{85}\u{1b}[31m\u{7f}\u{9b}";
    let pod = "cart-0\u{2069}\u{600}\u{180e}";
    let body = serde_json::json!([{
        "Id": CLIENT_ID,
        "Names": ["/client"],
        "Labels": {
            "io.kubernetes.pod.namespace": "shop",
            "io.kubernetes.pod.name": pod,
            "io.kubernetes.container.name": container,
        }
    }])
    .to_string();
    let answer = format!(
        "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let docker = FakeDocker::start(
        &node.0,
        Behavior::Answer {
            ping: b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK".to_vec(),
            other: answer.into_bytes(),
        },
    )
    .unwrap();
    for format in ["table", "json"] {
        let output = node.run(&docker, &["-a", "--format", format]);
        let text = String::from_utf8(output.stdout).unwrap();
        for (at, c) in text.char_indices() {
            assert!(
                c == '\n' || !is_invisible(c),
                "{format}: raw U+{:04X} at byte {at}",
                c as u32
            );
        }
        if format == "table" {
            assert!(text.contains("cl\\u{202e}ient\\u{2028}\\u{2029}\\u{ad}\\u{200b}\\u{200d}\\u{2066}\\u{feff}\\u{e0041}\\u{85}\\x1b[31m\\x7f\\u{9b}"), "{text}");
            assert!(text.contains("cart-0\\u{2069}\\u{600}\\u{180e}"), "{text}");
        } else {
            assert!(text.contains(r#""container":"cl\u202eient\u2028\u2029\u00ad\u200b\u200d\u2066\ufeff\udb40\udc41\u0085\u001b[31m\u007f\u009b""#), "{text}");
            let client = text
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .find(|r| r["local_port"] == 41414)
                .unwrap();
            assert_eq!(
                (client["container"].as_str(), client["pod"].as_str()),
                (Some(container), Some(pod))
            );
        }
    }
}

/// The Docker socket under `--root` is opened there, O_PATH, and connected
/// through that descriptor: `run/docker.sock` answers when it is the
/// daemon's, and a link planted in its place cannot lead out of the root
/// to another socket (an absolute link resolves inside the root).
#[test]
fn the_docker_socket_is_the_one_inside_the_root() {
    let node = Node::copy("docker-in-root");
    let read = |name: &str| std::fs::read(node.path(name)).unwrap();
    let answer = || Behavior::Answer {
        ping: read("docker-ping.http"),
        other: read("docker-containers.http"),
    };
    std::fs::create_dir_all(node.path("run")).unwrap();
    let inside = FakeDocker::start(&node.path("run"), answer()).unwrap();
    let listing = |node: &Node| {
        let output = Command::new(env!("CARGO_BIN_EXE_cnetstat"))
            .arg("--proc")
            .arg(node.path("proc"))
            .arg("--root")
            .arg(&node.0)
            .args(["--format", "json"])
            .env_remove("DOCKER_HOST")
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(listing(&node).contains("\"container\":\"client\""));
    assert_eq!(inside.requests().len(), 2, "{:?}", inside.requests());
    drop(inside);

    let outside_dir = node.0.with_extension("outside");
    let _ = std::fs::remove_dir_all(&outside_dir);
    std::fs::create_dir_all(&outside_dir).unwrap();
    let outside = FakeDocker::start(&outside_dir, answer()).unwrap();
    node.link("run/docker.sock", outside.socket().to_str().unwrap());
    let text = listing(&node);
    assert!(!text.contains("\"container\":\"client\""), "{text}");
    assert!(outside.requests().is_empty(), "{:?}", outside.requests());
    let _ = std::fs::remove_dir_all(&outside_dir);
}
