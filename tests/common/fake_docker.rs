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

/// Answers one request as it likes: given the request's head, the
/// connection, and a flag that turns true when the server is told to
/// stop. The connection closes when it returns.
pub type Script = Box<dyn Fn(&str, &mut UnixStream, &AtomicBool) + Send + Sync>;

#[allow(dead_code)] // each test crate uses some
pub enum Behavior {
    /// Answers a request whose path holds `/_ping` with `ping`, any other
    /// with `other`, then closes the connection.
    Answer { ping: Vec<u8>, other: Vec<u8> },
    /// Answers each request with a script, which may stream without end,
    /// drip, or stop halfway. Connections are served one at a time.
    Script(Script),
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
            requests.push(head.clone());
        }
        let answer: &[u8] = match behavior {
            Behavior::Script(script) => {
                // A client that stops reading must not hold the server.
                let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
                script(&head, &mut stream, stop);
                continue;
            }
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

/// A socket at `path` whose daemon stopped accepting: its listen backlog
/// is full of connections nobody accepts, so connect(2) to it blocks.
#[allow(dead_code)] // not every test crate needs one
pub struct FullBacklog {
    _listener: UnixListener,
    pending: Vec<std::os::fd::OwnedFd>,
}

#[allow(dead_code)]
impl FullBacklog {
    pub fn bind(path: &Path) -> io::Result<FullBacklog> {
        use std::os::fd::AsRawFd;
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        let listener = UnixListener::bind(path)?;
        // A backlog of one (std listens with SOMAXCONN, thousands): a
        // second listen(2) only changes it.
        // SAFETY: listen(2) on a socket the listener owns.
        if unsafe { libc::listen(listener.as_raw_fd(), 1) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut pending = Vec::new();
        // SAFETY: plain socket(2) and connect(2) on a zeroed sockaddr_un
        // filled with a path shorter than sun_path.
        unsafe {
            let mut address: libc::sockaddr_un = std::mem::zeroed();
            address.sun_family = libc::AF_UNIX as libc::sa_family_t;
            let bytes = path.as_os_str().as_bytes();
            assert!(bytes.len() < address.sun_path.len(), "{}", path.display());
            for (to, from) in address.sun_path.iter_mut().zip(bytes) {
                *to = *from as libc::c_char;
            }
            loop {
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                pending.push(std::os::fd::OwnedFd::from_raw_fd(fd));
                let connected = libc::connect(
                    fd,
                    (&address as *const libc::sockaddr_un).cast(),
                    std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                );
                if connected != 0 {
                    break;
                }
                if pending.len() > 64 {
                    return Err(io::Error::other("the backlog never filled"));
                }
            }
        }
        Ok(FullBacklog {
            _listener: listener,
            pending,
        })
    }

    /// Connections waiting in the backlog.
    pub fn pending(&self) -> usize {
        self.pending.len() - 1
    }
}
