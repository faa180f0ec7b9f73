//! The edge `--watch` waits and draws at: signals, keys and the terminal,
//! by libc (termios, ioctl, poll, sigaction).
//!
//! SIGINT, SIGTERM and SIGHUP ask the watch to stop after what it is doing
//! (a tick's output is never cut in half); a second one, while the first is
//! not yet heard, stops it at once, the terminal restored first. SIGWINCH
//! asks for a redraw. Each handler only sets a flag and writes a byte to a
//! pipe the waiting side polls, both async-signal-safe.
//!
//! The full-screen view takes the alternate screen, hides the cursor and
//! reads keys unbuffered and unechoed (Ctrl-C is then a key, 0x03, not a
//! signal); leaving puts every setting back, on `q`, Ctrl-C, a signal or an
//! error alike.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static STOP: AtomicBool = AtomicBool::new(false);
static RESIZED: AtomicBool = AtomicBool::new(false);
/// The pipe's write end, -1 before [`Signals::catch`].
static WAKE: AtomicI32 = AtomicI32::new(-1);
/// The terminal's settings before the full-screen view, to put back.
static SAVED: OnceLock<libc::termios> = OnceLock::new();
/// Whether the full-screen view is on, for a handler that must leave it.
static ON_SCREEN: AtomicBool = AtomicBool::new(false);

const ENTER: &[u8] = b"\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
const LEAVE: &[u8] = b"\x1b[?25h\x1b[?1049l";

/// What ended a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The time came.
    Due,
    /// A signal, `q` or Ctrl-C asked to stop.
    Stop,
    /// The terminal changed size.
    Resize,
}

/// The signals a watch handles, and the pipe their handlers wake it by.
pub struct Signals {
    wake: OwnedFd,
}

impl Signals {
    pub fn catch() -> io::Result<Signals> {
        let mut fds = [0; 2];
        // SAFETY: `fds` holds the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both were just opened and nothing else owns them; the
        // write end lives as long as the process, for the handlers.
        let wake = unsafe { OwnedFd::from_raw_fd(fds[0]) };
        WAKE.store(fds[1], Ordering::SeqCst);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGWINCH] {
            // SAFETY: sigaction is plain old data, valid when zeroed; the
            // handler is an extern "C" fn of the signature sa_sigaction
            // takes without SA_SIGINFO.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            // SAFETY: a valid action for a catchable signal.
            if unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Signals { wake })
    }

    pub fn stop_asked(&self) -> bool {
        STOP.load(Ordering::SeqCst)
    }

    /// Waits until `until`, a stop, a resize, or (with `keys`, a terminal
    /// in the full-screen view's mode) `q` or Ctrl-C.
    pub fn wait(&self, until: Instant, keys: Option<RawFd>) -> Wake {
        loop {
            if STOP.load(Ordering::SeqCst) {
                return Wake::Stop;
            }
            if RESIZED.swap(false, Ordering::SeqCst) {
                return Wake::Resize;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wake::Due;
            }
            let mut fds = [
                libc::pollfd {
                    fd: self.wake.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: keys.unwrap_or(-1),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let timeout = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
            // SAFETY: two pollfds, as counted; a negative fd is ignored.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
            if ready <= 0 {
                continue;
            }
            if fds[0].revents != 0 {
                drain(self.wake.as_raw_fd());
            }
            if fds[1].revents & libc::POLLIN != 0 && keys.is_some_and(quit_pressed) {
                STOP.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// Whether the keys waiting on `fd` hold `q` or Ctrl-C; reads them all.
fn quit_pressed(fd: RawFd) -> bool {
    let mut keys = [0u8; 64];
    // SAFETY: the buffer is writable for its length.
    let read = unsafe { libc::read(fd, keys.as_mut_ptr().cast(), keys.len()) };
    usize::try_from(read).is_ok_and(|n| keys[..n].iter().any(|k| matches!(k, b'q' | b'Q' | 0x03)))
}

fn drain(fd: RawFd) {
    let mut bytes = [0u8; 64];
    // SAFETY: the buffer is writable; the pipe does not block.
    while unsafe { libc::read(fd, bytes.as_mut_ptr().cast(), bytes.len()) } > 0 {}
}

extern "C" fn on_signal(signal: libc::c_int) {
    if signal == libc::SIGWINCH {
        RESIZED.store(true, Ordering::SeqCst);
    } else if STOP.swap(true, Ordering::SeqCst) {
        // Asked twice: the watch did not get to stop; stop now.
        restore();
        // SAFETY: _exit is async-signal-safe and ends the process.
        unsafe { libc::_exit(128 + signal) };
    }
    let fd = WAKE.load(Ordering::SeqCst);
    // SAFETY: write is async-signal-safe; a full pipe already wakes.
    unsafe { libc::write(fd, b"!".as_ptr().cast(), 1) };
}

/// Leaves the full-screen view and puts the terminal's settings back, by
/// async-signal-safe calls only, so a handler can too.
fn restore() {
    if !ON_SCREEN.swap(false, Ordering::SeqCst) {
        return;
    }
    // SAFETY: write and tcsetattr are async-signal-safe; the settings are
    // ones tcgetattr filled.
    unsafe {
        libc::write(libc::STDOUT_FILENO, LEAVE.as_ptr().cast(), LEAVE.len());
        if let Some(saved) = SAVED.get() {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
        }
    }
}

pub fn is_terminal(fd: RawFd) -> bool {
    // SAFETY: isatty only tests the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// The full-screen view, on stdout; keys from stdin when it is a terminal.
/// Dropping it leaves the view.
pub struct Screen {
    keys: Option<RawFd>,
}

impl Screen {
    pub fn enter(out: &mut impl Write) -> io::Result<Screen> {
        let keys = is_terminal(libc::STDIN_FILENO).then_some(libc::STDIN_FILENO);
        if let Some(fd) = keys {
            // SAFETY: termios is plain old data; tcgetattr fills it.
            let mut settings: libc::termios = unsafe { std::mem::zeroed() };
            // SAFETY: a terminal descriptor and a writable termios.
            if unsafe { libc::tcgetattr(fd, &mut settings) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let _ = SAVED.set(settings);
            settings.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG | libc::IEXTEN);
            settings.c_iflag &= !(libc::IXON | libc::ICRNL);
            settings.c_cc[libc::VMIN] = 0;
            settings.c_cc[libc::VTIME] = 0;
            // SAFETY: as above, with settings derived from the terminal's.
            if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &settings) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        ON_SCREEN.store(true, Ordering::SeqCst);
        let screen = Screen { keys };
        out.write_all(ENTER)?;
        out.flush()?;
        Ok(screen)
    }

    pub fn keys(&self) -> Option<RawFd> {
        self.keys
    }

    /// Rows and columns; 24 × 80 where the terminal does not say.
    pub fn size(&self) -> (usize, usize) {
        // SAFETY: winsize is plain old data; TIOCGWINSZ fills it.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: stdout and a writable winsize, as TIOCGWINSZ takes.
        let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
        match (ok, size.ws_row, size.ws_col) {
            (true, rows, cols) if rows > 0 && cols > 0 => (usize::from(rows), usize::from(cols)),
            _ => (24, 80),
        }
    }

    /// Draws `lines` over the last frame, from the top left.
    pub fn draw(&mut self, out: &mut impl Write, lines: &[String]) -> io::Result<()> {
        let mut frame = Vec::with_capacity(lines.iter().map(|l| l.len() + 8).sum::<usize>() + 8);
        frame.extend_from_slice(b"\x1b[H");
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                frame.extend_from_slice(b"\r\n");
            }
            frame.extend_from_slice(line.as_bytes());
            frame.extend_from_slice(b"\x1b[K");
        }
        frame.extend_from_slice(b"\x1b[J");
        out.write_all(&frame)?;
        out.flush()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}
