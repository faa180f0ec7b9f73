//! The netlink socket: open one of a protocol, send one request, and read
//! the answer to its end, handing each data message to a callback.
//!
//! A socket belongs to the network namespace of the thread that creates
//! it, so a reader of another namespace opens it inside
//! [`crate::collect::netns_enter::in_netns`]. Each request gets a socket of its own,
//! so an answer cut short by an error can never be read as the next one's.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::message::{walk_answer, DumpError, Message, Request};
use super::wire::Malformed;

/// The kernel caps a dump's datagram at 32 KiB unless a family asks for
/// more (rtnetlink for links with many VFs); twice that leaves room, and a
/// larger one is still noticed through MSG_TRUNC.
const RECV_BUFFER_LEN: usize = 64 * 1024;
/// A dump of a million conntrack entries sends its first datagram long
/// before this; a kernel that sends nothing for this long is stuck.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);
/// linux/netlink.h; ask for the kernel's error text in NLMSG_ERROR.
const NETLINK_EXT_ACK: libc::c_int = 11;

/// Which request failed, and how.
#[derive(Debug)]
pub struct NetlinkError {
    /// What was asked, as a reader would name it ("ctnetlink dump").
    pub request: &'static str,
    pub problem: Problem,
}

#[derive(Debug)]
pub enum Problem {
    /// No socket of the protocol could be made: the family is not built
    /// (EPROTONOSUPPORT), a sandbox without netlink, or no descriptors.
    Socket(io::Error),
    Send(io::Error),
    Recv(io::Error),
    /// The kernel sent nothing for [`RECV_TIMEOUT`].
    Timeout,
    /// NLMSG_ERROR, or NLMSG_DONE with an error status.
    Kernel {
        error: io::Error,
        message: Option<String>,
    },
    /// A datagram larger than the receive buffer.
    Truncated {
        len: usize,
        capacity: usize,
    },
    /// `datagram` counts from 1 in the order received.
    Malformed {
        datagram: usize,
        at: Malformed,
    },
}

impl fmt::Display for NetlinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request = self.request;
        match &self.problem {
            Problem::Socket(e) => write!(f, "{request}: cannot open a netlink socket: {e}"),
            Problem::Send(e) => write!(f, "{request}: cannot send the request: {e}"),
            Problem::Recv(e) => write!(f, "{request}: cannot receive the answer: {e}"),
            Problem::Timeout => write!(
                f,
                "{request}: the kernel sent nothing for {} s",
                RECV_TIMEOUT.as_secs()
            ),
            Problem::Kernel {
                error,
                message: Some(message),
            } => write!(f, "{request}: the kernel refused it: {error} ({message})"),
            Problem::Kernel { error, .. } => write!(f, "{request}: the kernel refused it: {error}"),
            Problem::Truncated { len, capacity } => write!(
                f,
                "{request}: a {len}-byte datagram does not fit the {capacity}-byte buffer"
            ),
            Problem::Malformed { datagram, at } => {
                write!(f, "{request}: datagram {datagram} of the answer is {at}")
            }
        }
    }
}

impl std::error::Error for NetlinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::Socket(e) | Problem::Send(e) | Problem::Recv(e) => Some(e),
            Problem::Kernel { error, .. } => Some(error),
            Problem::Malformed { at, .. } => Some(at),
            _ => None,
        }
    }
}

/// What the whole answer said besides its data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Some message carried NLM_F_DUMP_FILTERED: the kernel applied the
    /// request's filter. Unset also when nothing matched, since then no
    /// data message carried the flag.
    pub dump_filtered: bool,
    /// Some message carried NLM_F_DUMP_INTR: the objects changed during
    /// the dump, which may have missed or repeated some.
    pub interrupted: bool,
    pub datagrams: usize,
}

/// Opens a socket of `protocol` (NETLINK_NETFILTER, NETLINK_ROUTE, ...) in
/// the calling thread's namespace, sends `request`, and passes every data
/// message of the answer to `each` until NLMSG_DONE or the acknowledgement.
/// A non-dump request must carry NLM_F_ACK, or this waits for the timeout.
pub fn exchange(
    name: &'static str,
    protocol: libc::c_int,
    request: &Request,
    mut each: impl FnMut(&Message<'_>) -> Result<(), Malformed>,
) -> Result<Summary, NetlinkError> {
    let fail = |problem| NetlinkError {
        request: name,
        problem,
    };
    let socket = open(protocol).map_err(|e| fail(Problem::Socket(e)))?;
    send(&socket, request.bytes()).map_err(|e| fail(Problem::Send(e)))?;
    let mut buf = vec![0u8; RECV_BUFFER_LEN];
    let mut summary = Summary::default();
    loop {
        let len = receive(&socket, &mut buf).map_err(fail)?;
        summary.datagrams += 1;
        let datagram = buf.get(..len).unwrap_or_default();
        let progress = walk_answer(datagram, &mut each).map_err(|e| {
            fail(match e {
                DumpError::Kernel { error, message } => Problem::Kernel { error, message },
                DumpError::Malformed(at) => Problem::Malformed {
                    datagram: summary.datagrams,
                    at,
                },
            })
        })?;
        summary.dump_filtered |= progress.dump_filtered;
        summary.interrupted |= progress.interrupted;
        if progress.done {
            return Ok(summary);
        }
    }
}

fn open(protocol: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) has no memory arguments.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let timeout = libc::timeval {
        tv_sec: RECV_TIMEOUT.as_secs() as _,
        tv_usec: 0,
    };
    set_option(&socket, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout)?;
    // Only adds text to errors; kernels before 4.12 refuse it, which costs
    // nothing but that text.
    let _ = set_option(
        &socket,
        libc::SOL_NETLINK,
        NETLINK_EXT_ACK,
        &1 as &libc::c_int,
    );
    Ok(socket)
}

fn set_option<T>(
    socket: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: the option value is a T of the size passed, valid for the call.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if set == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn send(socket: &OwnedFd, request: &[u8]) -> io::Result<()> {
    // SAFETY: sockaddr_nl is plain old data; zeroed means "the kernel".
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    loop {
        // SAFETY: buffer and address are valid for the lengths passed.
        let sent = unsafe {
            libc::sendto(
                socket.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
                (&kernel as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent >= 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Receives one datagram into `buf` and returns its length.
fn receive(socket: &OwnedFd, buf: &mut [u8]) -> Result<usize, Problem> {
    loop {
        // MSG_TRUNC makes netlink return the datagram's full length, so a
        // datagram that did not fit is noticed instead of silently cut.
        // SAFETY: buf is writable for its length.
        let len = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
            )
        };
        if let Ok(len) = usize::try_from(len) {
            if len > buf.len() {
                return Err(Problem::Truncated {
                    len,
                    capacity: buf.len(),
                });
            }
            return Ok(len);
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return Err(Problem::Timeout),
            _ => return Err(Problem::Recv(error)),
        }
    }
}

/// Records every datagram of an answer, for fixtures.
#[cfg(test)]
pub(crate) fn record_answer(protocol: libc::c_int, request: &Request) -> Vec<Vec<u8>> {
    let socket = open(protocol).unwrap();
    send(&socket, request.bytes()).unwrap();
    let mut buf = vec![0u8; RECV_BUFFER_LEN];
    let mut datagrams = Vec::new();
    loop {
        let len = receive(&socket, &mut buf).unwrap();
        datagrams.push(buf[..len].to_vec());
        if walk_answer(&buf[..len], |_| Ok(())).unwrap().done {
            return datagrams;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::message::{NLM_F_ACK, NLM_F_DUMP};

    const NETLINK_ROUTE: libc::c_int = 0;
    const RTM_GETLINK: u16 = 18;
    const RTM_NEWLINK: u16 = 16;

    fn ifinfomsg() -> [u8; 16] {
        [0; 16]
    }

    #[test]
    fn a_dump_reaches_done_and_sees_loopback() {
        // Any process may dump links; this namespace always has lo.
        let request = Request::new(RTM_GETLINK, NLM_F_DUMP, &ifinfomsg());
        let mut links = 0;
        let summary = exchange("link dump", NETLINK_ROUTE, &request, |m| {
            assert_eq!(m.kind, RTM_NEWLINK);
            links += 1;
            Ok(())
        })
        .unwrap();
        assert!(links >= 1);
        assert!(summary.datagrams >= 1);
        assert!(!summary.interrupted);
    }

    #[test]
    fn a_refused_request_names_the_request_and_errno() {
        // A link "get" of an index that cannot exist: ENODEV.
        let mut header = ifinfomsg();
        header[4..8].copy_from_slice(&i32::MAX.to_ne_bytes());
        let request = Request::new(RTM_GETLINK, NLM_F_ACK, &header);
        let err = exchange("link get", NETLINK_ROUTE, &request, |_| Ok(())).unwrap_err();
        assert!(
            matches!(&err.problem, Problem::Kernel { error, .. } if error.raw_os_error() == Some(libc::ENODEV)),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("link get: the kernel refused it"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_protocol_is_a_socket_error() {
        let request = Request::new(RTM_GETLINK, NLM_F_DUMP, &ifinfomsg());
        let err = exchange("dump", 31, &request, |_| Ok(())).unwrap_err();
        assert!(matches!(err.problem, Problem::Socket(_)), "{err:?}");
    }

    #[test]
    fn a_malformed_message_stops_the_answer_with_its_datagram() {
        let request = Request::new(RTM_GETLINK, NLM_F_DUMP, &ifinfomsg());
        let err = exchange("link dump", NETLINK_ROUTE, &request, |m| {
            Err(m.malformed("test"))
        })
        .unwrap_err();
        assert!(
            matches!(err.problem, Problem::Malformed { datagram: 1, at } if at.offset == 16),
            "{err:?}"
        );
        assert!(err.to_string().contains("datagram 1"), "{err}");
    }

    #[test]
    fn timeout_when_nothing_answers() {
        // A request without NLM_F_ACK that the kernel answers with nothing:
        // an NLMSG_NOOP is dropped silently by rtnetlink.
        let socket = open(NETLINK_ROUTE).unwrap();
        let short = libc::timeval {
            tv_sec: 0,
            tv_usec: 50_000,
        };
        set_option(&socket, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &short).unwrap();
        send(&socket, Request::new(1, 0, &[]).bytes()).unwrap();
        let mut buf = [0u8; 64];
        assert!(matches!(receive(&socket, &mut buf), Err(Problem::Timeout)));
    }

    #[test]
    fn msg_trunc_reports_the_full_length() {
        let socket = open(NETLINK_ROUTE).unwrap();
        send(
            &socket,
            Request::new(RTM_GETLINK, NLM_F_DUMP, &ifinfomsg()).bytes(),
        )
        .unwrap();
        let mut buf = [0u8; 20];
        assert!(
            matches!(receive(&socket, &mut buf), Err(Problem::Truncated { len, capacity: 20 }) if len > 20)
        );
    }
}
