//! A fake Docker daemon on a Unix socket: it answers each connection with
//! canned bytes (such as the recorded `testdata/docker/*.http`), or
//! misbehaves on purpose so tests can see how a client copes.

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub enum Behavior {
    /// Answers a request whose path holds `/_ping` with `ping`, any other
    /// with `other`, then closes the connection.
    Answer { ping: Vec<u8>, other: Vec<u8> },
    /// Reads the request and never answers.
    Hang,
    /// Answers every request with bytes that are not HTTP.
    Garbage,
    /// Closes every connection as soon as it is accepted.
    Close,
}

/// Serves on `<dir>/docker.sock` from a background thread until dropped.
pub struct FakeDocker {
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    server: Option<JoinHandle<()>>,
}

/// How often the server thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(5);

impl FakeDocker {
    pub fn start(dir: &Path, behavior: Behavior) -> io::Result<FakeDocker> {
        let socket = dir.join("docker.sock");
        let listener = UnixListener::bind(&socket)?;
        // Non-blocking, so the thread can notice the stop flag between accepts.
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let server = {
            let (stop, requests) = (Arc::clone(&stop), Arc::clone(&requests));
            thread::spawn(move || serve(&listener, &behavior, &stop, &requests))
        };
        Ok(FakeDocker {
            socket,
            stop,
            requests,
            server: Some(server),
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The head of every request received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for FakeDocker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn serve(
    listener: &UnixListener,
    behavior: &Behavior,
    stop: &AtomicBool,
    requests: &Mutex<Vec<String>>,
) {
    // Hung connections stay open until the server stops, then close with it.
    let mut hung = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(POLL);
                continue;
            }
            Err(_) => return,
        };
        if let Behavior::Close = behavior {
            continue;
        }
        let head = match read_request_head(&mut stream, stop) {
            Some(head) => head,
            None => continue,
        };
        let is_ping = head
            .split_whitespace()
            .nth(1)
            .is_some_and(|path| path.contains("/_ping"));
        if let Ok(mut requests) = requests.lock() {
            requests.push(head);
        }
        let answer: &[u8] = match behavior {
            Behavior::Answer { ping, .. } if is_ping => ping,
            Behavior::Answer { other, .. } => other,
            Behavior::Garbage => b"\x00\x13 this is no HTTP \xff\r\n\r\n",
            Behavior::Hang => {
                hung.push(stream);
                continue;
            }
            Behavior::Close => continue,
        };
        let _ = stream.write_all(answer);
    }
}

/// Reads up to the blank line that ends a request head, giving up when the
/// client closes or the server is told to stop.
fn read_request_head(stream: &mut UnixStream, stop: &AtomicBool) -> Option<String> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(POLL * 10)).ok()?;
    let mut head = Vec::new();
    let mut buf = [0; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}
