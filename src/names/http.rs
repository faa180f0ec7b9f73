//! A minimal HTTP/1.1 client: one `GET` per connection, over any byte stream.
//!
//! It reads responses as RFC 9112 frames them (§4 status line, §5 fields,
//! §6.3 body length, §7.1 chunked coding): a chunked body (extensions and
//! trailers skipped) wins over `Content-Length`, which must then be exact;
//! without either, the body ends when the server closes. The request says
//! `Connection: close`, so reading stops at the end of that one response.
//!
//! It is generic over `Read + Write` so tests can feed it recorded bytes.
//! Timeouts belong to the stream: a read that times out surfaces as an
//! [`HttpError`] whose [`is_timeout`](HttpError::is_timeout) is true.

use std::fmt;
use std::io::{self, Read, Write};

use memchr::memchr;

use crate::text::parse_decimal;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
pub enum HttpError {
    Write(io::Error),
    Read(io::Error),
    /// The server sent more than the caller's `max_bytes`.
    TooLarge {
        max_bytes: usize,
    },
    /// The server closed the connection without sending a byte.
    NoResponse,
    MalformedStatusLine(String),
    MalformedHeader(String),
    MalformedChunk(String),
    /// The connection closed inside the named part of the response.
    Truncated(&'static str),
}

impl HttpError {
    /// Whether a read or write ran out of the stream's timeout.
    pub fn is_timeout(&self) -> bool {
        match self {
            HttpError::Write(e) | HttpError::Read(e) => is_timeout(e),
            _ => false,
        }
    }
}

/// A socket timeout shows up as EAGAIN (WouldBlock) on Unix.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Write(e) if is_timeout(e) => f.write_str("timed out sending the request"),
            HttpError::Read(e) if is_timeout(e) => f.write_str("timed out reading the response"),
            HttpError::Write(e) => write!(f, "cannot send the request: {e}"),
            HttpError::Read(e) => write!(f, "cannot read the response: {e}"),
            HttpError::TooLarge { max_bytes } => {
                write!(f, "response larger than {max_bytes} bytes")
            }
            HttpError::NoResponse => f.write_str("connection closed without a response"),
            HttpError::MalformedStatusLine(line) => write!(f, "malformed status line \"{line}\""),
            HttpError::MalformedHeader(line) => write!(f, "malformed header \"{line}\""),
            HttpError::MalformedChunk(line) => write!(f, "malformed chunk \"{line}\""),
            HttpError::Truncated(part) => {
                write!(f, "connection closed in the middle of the {part}")
            }
        }
    }
}

impl std::error::Error for HttpError {}

/// Sends `GET path` and reads the whole response, failing rather than
/// truncating once more than `max_bytes` (head and framing included) arrive.
pub fn get<S: Read + Write>(
    mut stream: S,
    host: &str,
    path: &str,
    max_bytes: usize,
) -> Result<Response, HttpError> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: cnetstat\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(HttpError::Write)?;
    read_response(Incoming::new(stream, max_bytes))
}

fn read_response<S: Read>(mut incoming: Incoming<S>) -> Result<Response, HttpError> {
    let status_line = incoming.line("status line")?;
    let status = parse_status_line(incoming.slice(status_line))?;
    let mut headers = Vec::new();
    loop {
        let line = incoming.line("headers")?;
        if line.is_empty() {
            break;
        }
        headers.push(parse_header(incoming.slice(line))?);
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    // RFC 9112 §6.3: these statuses never have a body, whatever the headers say.
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(response);
    }
    response.body = match body_length(&response.headers)? {
        BodyLength::Chunked => read_chunked(&mut incoming)?,
        BodyLength::Exact(length) => {
            if length > incoming.body_budget() {
                return Err(incoming.too_large());
            }
            let mut body = Vec::with_capacity(length);
            incoming.take_exact(length, &mut body, "body")?;
            body
        }
        BodyLength::UntilClose => {
            let mut body = Vec::new();
            incoming.take_rest(&mut body)?;
            body
        }
    };
    Ok(response)
}

/// `HTTP/1.x SP 3DIGIT [SP reason]`. Docker puts free text in the reason
/// ("400 Bad Request: missing required Host header"), so it is not read.
fn parse_status_line(line: &[u8]) -> Result<u16, HttpError> {
    match line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor, b' ', d1, d2, d3, reason @ ..]
            if [minor, d1, d2, d3].iter().all(|d| d.is_ascii_digit())
                && (reason.is_empty() || reason[0] == b' ') =>
        {
            Ok([d1, d2, d3]
                .iter()
                .fold(0, |code, d| code * 10 + u16::from(**d - b'0')))
        }
        _ => Err(HttpError::MalformedStatusLine(excerpt(line))),
    }
}

/// `name: value`, with the optional whitespace around the value removed.
fn parse_header(line: &[u8]) -> Result<(String, String), HttpError> {
    let malformed = || HttpError::MalformedHeader(excerpt(line));
    let colon = memchr(b':', line).ok_or_else(malformed)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // RFC 9112 §5.1 forbids whitespace before the colon; a leading space is
    // the obsolete line folding of §5.2, which a client may reject.
    if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
        return Err(malformed());
    }
    let value = value.trim_ascii();
    Ok((
        String::from_utf8_lossy(name).into_owned(),
        String::from_utf8_lossy(value).into_owned(),
    ))
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

enum BodyLength {
    Chunked,
    Exact(usize),
    UntilClose,
}

/// RFC 9112 §6.3, items 4 to 8, for a response.
fn body_length(headers: &[(String, String)]) -> Result<BodyLength, HttpError> {
    let mut transfer_coding = None;
    let mut content_length = None;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_coding = value.rsplit(',').next().map(str::trim);
        } else if name.eq_ignore_ascii_case("content-length") {
            // A list of identical values ("12, 12") is allowed; differing
            // values mean the framing cannot be trusted.
            let malformed =
                || HttpError::MalformedHeader(format!("{name}: {}", excerpt(value.as_bytes())));
            for item in value.split(',') {
                let length = parse_decimal(item.trim().as_bytes()).ok_or_else(malformed)?;
                if content_length.is_some_and(|seen| seen != length) {
                    return Err(malformed());
                }
                content_length = Some(length);
            }
        }
    }
    Ok(match (transfer_coding, content_length) {
        (Some(coding), _) if coding.eq_ignore_ascii_case("chunked") => BodyLength::Chunked,
        // Any other final coding leaves the length to the connection's end.
        (Some(_), _) => BodyLength::UntilClose,
        (None, Some(length)) => BodyLength::Exact(length),
        (None, None) => BodyLength::UntilClose,
    })
}

/// RFC 9112 §7.1: `size[;ext] CRLF data CRLF` until a zero size, then
/// trailer fields up to an empty line.
fn read_chunked<S: Read>(incoming: &mut Incoming<S>) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let line = incoming.line("chunked body")?;
        let size = parse_chunk_size(incoming.slice(line))?;
        if size == 0 {
            break;
        }
        if size > incoming.body_budget() {
            return Err(incoming.too_large());
        }
        incoming.take_exact(size, &mut body, "chunked body")?;
        let end = incoming.line("chunked body")?;
        if !end.is_empty() {
            let after_data = incoming.slice(end);
            return Err(HttpError::MalformedChunk(format!(
                "{} (data longer than its size {size:x})",
                excerpt(after_data)
            )));
        }
    }
    while !incoming.line("trailer")?.is_empty() {}
    Ok(body)
}

fn parse_chunk_size(line: &[u8]) -> Result<usize, HttpError> {
    let malformed = || HttpError::MalformedChunk(excerpt(line));
    let digits = line
        .iter()
        .position(|&b| !b.is_ascii_hexdigit())
        .map_or(line, |end| &line[..end]);
    // After the digits only whitespace before `;ext` may follow (RFC 9112 §7.1.1 BWS).
    let rest = line[digits.len()..].trim_ascii_start();
    if digits.is_empty() || !(rest.is_empty() || rest[0] == b';') {
        return Err(malformed());
    }
    digits.iter().try_fold(0usize, |size, &d| {
        let value = (d as char).to_digit(16).ok_or_else(malformed)?;
        size.checked_mul(16)
            .and_then(|s| s.checked_add(value as usize))
            .ok_or_else(malformed)
    })
}

/// The stream, with a running count of bytes read against the cap.
struct Capped<S> {
    stream: S,
    received: usize,
    max_bytes: usize,
}

impl<S: Read> Capped<S> {
    /// Reads once into `dest`; 0 means the server closed the connection.
    fn read(&mut self, dest: &mut [u8]) -> Result<usize, HttpError> {
        // Never more than the cap, so what fails is the same however the
        // bytes arrive; once it is reached, one byte more shows it exceeded.
        let allowed = (self.max_bytes - self.received).max(1);
        let len = dest.len().min(allowed);
        let n = loop {
            match self.stream.read(&mut dest[..len]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(HttpError::Read(e)),
            }
        };
        self.received += n;
        if self.received > self.max_bytes {
            return Err(HttpError::TooLarge {
                max_bytes: self.max_bytes,
            });
        }
        Ok(n)
    }
}

/// The response as it arrives: lines are cut from a buffer, body bytes
/// are moved out of it and then read straight into the body.
struct Incoming<S> {
    source: Capped<S>,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

/// A range of `Incoming::buf`, valid until the next read.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn is_empty(self) -> bool {
        self.start == self.end
    }
}

const READ_SIZE: usize = 64 << 10;

impl<S: Read> Incoming<S> {
    fn new(stream: S, max_bytes: usize) -> Self {
        Incoming {
            source: Capped {
                stream,
                received: 0,
                max_bytes,
            },
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    fn slice(&self, span: Span) -> &[u8] {
        &self.buf[span.start..span.end]
    }

    /// How many more body bytes the cap allows, so that a huge declared
    /// length fails before anything is allocated for it.
    fn body_budget(&self) -> usize {
        self.source.max_bytes - self.source.received + (self.end - self.start)
    }

    fn too_large(&self) -> HttpError {
        HttpError::TooLarge {
            max_bytes: self.source.max_bytes,
        }
    }

    /// Moves the unconsumed bytes to the front, then appends one read.
    fn fill(&mut self) -> Result<usize, HttpError> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < self.end + READ_SIZE {
            self.buf.resize(self.end + READ_SIZE, 0);
        }
        let n = self.source.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// The next line without its LF or CRLF, consumed.
    fn line(&mut self, part: &'static str) -> Result<Span, HttpError> {
        let mut scanned = self.start;
        loop {
            if let Some(lf) = memchr(b'\n', &self.buf[scanned..self.end]) {
                let lf = scanned + lf;
                let end = if lf > self.start && self.buf[lf - 1] == b'\r' {
                    lf - 1
                } else {
                    lf
                };
                let span = Span {
                    start: self.start,
                    end,
                };
                self.start = lf + 1;
                return Ok(span);
            }
            // fill() moves the unconsumed bytes, and so the scan position, to the front.
            scanned = self.end - self.start;
            if self.fill()? == 0 {
                return Err(if self.source.received == 0 {
                    HttpError::NoResponse
                } else {
                    HttpError::Truncated(part)
                });
            }
        }
    }

    /// Moves exactly `len` bytes into `dest`.
    fn take_exact(
        &mut self,
        len: usize,
        dest: &mut Vec<u8>,
        part: &'static str,
    ) -> Result<(), HttpError> {
        let buffered = len.min(self.end - self.start);
        dest.extend_from_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        let mut missing = len - buffered;
        while missing > 0 {
            let filled = dest.len();
            dest.resize(filled + missing.min(READ_SIZE), 0);
            let n = self.source.read(&mut dest[filled..])?;
            dest.truncate(filled + n);
            if n == 0 {
                return Err(HttpError::Truncated(part));
            }
            missing -= n;
        }
        Ok(())
    }

    /// Moves everything up to the end of the stream into `dest`.
    fn take_rest(&mut self, dest: &mut Vec<u8>) -> Result<(), HttpError> {
        dest.extend_from_slice(&self.buf[self.start..self.end]);
        self.start = self.end;
        loop {
            let filled = dest.len();
            dest.resize(filled + READ_SIZE, 0);
            let n = self.source.read(&mut dest[filled..])?;
            dest.truncate(filled + n);
            if n == 0 {
                return Ok(());
            }
        }
    }
}

/// The start of some received bytes, printable in one line of an error.
fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 60;
    let shown = bytes.get(..MAX).unwrap_or(bytes);
    let mut text = shown.escape_ascii().to_string();
    if shown.len() < bytes.len() {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that hands out `input` at most `chunk` bytes per read and
    /// keeps what is written to it.
    struct Mock<'a> {
        input: &'a [u8],
        chunk: usize,
        written: Vec<u8>,
    }

    impl<'a> Mock<'a> {
        fn new(input: &'a [u8], chunk: usize) -> Self {
            Mock {
                input,
                chunk,
                written: Vec::new(),
            }
        }
    }

    impl Read for Mock<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk).min(self.input.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input = &self.input[n..];
            Ok(n)
        }
    }

    impl Write for Mock<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/testdata/docker/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const MAX: usize = 1 << 20;

    /// The response to `input`, the same whatever size the reads come in.
    fn get_bytes(input: &[u8], max_bytes: usize) -> Result<Response, HttpError> {
        let whole = get(&mut Mock::new(input, usize::MAX), "h", "/", max_bytes);
        for chunk in [1, 2, 7, 100] {
            let split = get(&mut Mock::new(input, chunk), "h", "/", max_bytes);
            match (&whole, &split) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(
                        (a.status, &a.headers, &a.body),
                        (b.status, &b.headers, &b.body)
                    )
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                _ => panic!("reads of {chunk} bytes gave {split:?}, whole reads {whole:?}"),
            }
        }
        whole
    }

    #[test]
    fn sends_a_get_with_host_and_crlf_line_ends() {
        let input = fixture("ping.http");
        let mut mock = Mock::new(&input, usize::MAX);
        get(&mut mock, "api.moby.localhost", "/_ping", MAX).unwrap();
        assert_eq!(
            String::from_utf8(mock.written).unwrap(),
            "GET /_ping HTTP/1.1\r\n\
             Host: api.moby.localhost\r\n\
             User-Agent: cnetstat\r\n\
             Accept: application/json\r\n\
             Connection: close\r\n\
             \r\n"
        );
    }

    #[test]
    fn reads_recorded_ping() {
        let response = get_bytes(&fixture("ping.http"), MAX).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("api-version"), Some("1.41"));
        assert_eq!(response.header("API-VERSION"), Some("1.41"));
        assert_eq!(
            response.header("Server"),
            Some("Docker/20.10.24+dfsg1 (linux)")
        );
        assert_eq!(
            response.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(response.header("Transfer-Encoding"), None);
        assert_eq!(response.headers.len(), 10);
        assert_eq!(response.body, b"OK");
    }

    #[test]
    fn reads_recorded_content_length_body() {
        let response = get_bytes(&fixture("containers-small.http"), MAX).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Content-Length"), Some("763"));
        assert_eq!(response.body.len(), 763);
        assert!(response.body.starts_with(b"[{\"Id\":\"ddcf56ea26b417ee"));
        assert!(response.body.ends_with(b"\"Mounts\":[]}]\n"));
    }

    #[test]
    fn reads_recorded_chunked_body() {
        let input = fixture("containers-chunked.http");
        let response = get_bytes(&input, MAX).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Transfer-Encoding"), Some("chunked"));
        // dockerd wrote the list as one chunk, "de0" bytes long.
        assert_eq!(response.body.len(), 0xde0);
        assert!(response.body.starts_with(b"[{\"Id\":\"c7ac75d0743a5f18"));
        assert!(response.body.ends_with(b"\"Mounts\":[]}]\n"));
    }

    #[test]
    fn reads_recorded_close_delimited_body() {
        let input = fixture("containers-http10.http");
        let response = get_bytes(&input, MAX).unwrap();
        assert!(input.starts_with(b"HTTP/1.0 200 OK\r\n"));
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Content-Length"), None);
        assert_eq!(response.header("Transfer-Encoding"), None);
        let head_end = input.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(response.body, &input[head_end..]);
        assert!(response.body.ends_with(b"\"Mounts\":[]}]\n"));
    }

    #[test]
    fn reads_recorded_error_status() {
        let response = get_bytes(&fixture("too-new-400.http"), MAX).unwrap();
        assert_eq!(response.status, 400);
        assert_eq!(
            response.body,
            &b"{\"message\":\"client version 1.99 is too new. \
               Maximum supported API version is 1.41\"}\n"[..]
        );
    }

    #[test]
    fn chunked_wins_over_content_length_and_skips_extensions_and_trailers() {
        let input = b"HTTP/1.1 200 OK\r\n\
            Content-Length: 999\r\n\
            Transfer-Encoding: gzip, chunked\r\n\
            \r\n\
            3\r\nhel\r\n\
            B ; name=value\r\nlo world!!!\r\n\
            0;last\r\n\
            Expires: never\r\n\
            \r\n";
        let response = get_bytes(input, MAX).unwrap();
        assert_eq!(response.body, b"hello world!!!");
    }

    #[test]
    fn accepts_bare_lf_line_ends() {
        let response = get_bytes(b"HTTP/1.1 404 Not Found\nContent-Length: 2\n\nno", MAX).unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(response.body, b"no");
    }

    #[test]
    fn status_without_reason_and_bodiless_statuses() {
        let response = get_bytes(b"HTTP/1.1 204\r\nContent-Length: 5\r\n\r\n", MAX).unwrap();
        assert_eq!((response.status, response.body.len()), (204, 0));
        let response = get_bytes(b"HTTP/1.1 304 Not Modified\r\n\r\n", MAX).unwrap();
        assert_eq!((response.status, response.body.len()), (304, 0));
    }

    #[test]
    fn identical_content_lengths_are_one() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(get_bytes(input, MAX).unwrap().body, b"ok");
    }

    fn error_of(input: &[u8], max_bytes: usize) -> HttpError {
        match get_bytes(input, max_bytes) {
            Ok(response) => panic!("expected an error, got {response:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn refuses_garbage_status_lines() {
        for line in [
            &b"garbage"[..],
            b"HTTP/1.1",
            b"HTTP/1.1 ",
            b"HTTP/1.1 20",
            b"HTTP/1.1 2000 OK",
            b"HTTP/2 200 OK",
            b"HTTP/1.x 200 OK",
            b"HTTP/1.1 2x0 OK",
            b"\x00\x13 this is no HTTP \xff",
        ] {
            let input = [line, b"\r\n\r\n"].concat();
            let e = error_of(&input, MAX);
            assert!(matches!(e, HttpError::MalformedStatusLine(_)), "{e:?}");
        }
        assert_eq!(
            error_of(b"\x00\x13 no HTTP \xff\r\n\r\n", MAX).to_string(),
            "malformed status line \"\\x00\\x13 no HTTP \\xff\""
        );
    }

    #[test]
    fn refuses_malformed_headers() {
        for header in [
            &b"NoColon"[..],
            b": empty name",
            b"Space Before : colon",
            b"Name : value",
            b" folded continuation",
            b"Content-Length: 12abc",
            b"Content-Length: -1",
            b"Content-Length:",
            b"Content-Length: 99999999999999999999999",
            b"Content-Length: 2, 3",
        ] {
            let input = [&b"HTTP/1.1 200 OK\r\nA: b\r\n"[..], header, b"\r\n\r\nok"].concat();
            let e = error_of(&input, MAX);
            assert!(matches!(e, HttpError::MalformedHeader(_)), "{e:?}");
        }
        let e = error_of(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
            MAX,
        );
        assert_eq!(e.to_string(), "malformed header \"Content-Length: 3\"");
    }

    #[test]
    fn refuses_malformed_chunks() {
        for body in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"\r\nhello\r\n0\r\n\r\n",
            b"5 x\r\nhello\r\n0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            // Larger than usize: must not overflow.
            b"10000000000000000\r\nhello\r\n0\r\n\r\n",
            // Data longer than the size says.
            b"3\r\nhello\r\n0\r\n\r\n",
        ] {
            let input = [
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
                body,
            ]
            .concat();
            let e = error_of(&input, MAX);
            assert!(matches!(e, HttpError::MalformedChunk(_)), "{e:?}");
        }
    }

    #[test]
    fn every_truncation_of_a_framed_response_is_an_error() {
        for name in [
            "containers-chunked.http",
            "containers-small.http",
            "ping.http",
        ] {
            let input = fixture(name);
            assert!(get_bytes(&input, MAX).is_ok());
            for end in 0..input.len() {
                let e = match get(&mut Mock::new(&input[..end], usize::MAX), "h", "/", MAX) {
                    Ok(_) => panic!("{name} cut at {end} bytes was accepted"),
                    Err(e) => e,
                };
                let expected = if end == 0 {
                    matches!(e, HttpError::NoResponse)
                } else {
                    matches!(e, HttpError::Truncated(_))
                };
                assert!(expected, "{name} cut at {end}: {e:?}");
            }
        }
        let e = error_of(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", MAX);
        assert_eq!(e.to_string(), "connection closed in the middle of the body");
        let e = error_of(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            MAX,
        );
        assert_eq!(
            e.to_string(),
            "connection closed in the middle of the chunked body"
        );
    }

    #[test]
    fn fails_past_the_size_cap_instead_of_truncating() {
        for name in [
            "containers-chunked.http",
            "containers-small.http",
            "containers-http10.http",
        ] {
            let input = fixture(name);
            assert!(get_bytes(&input, input.len()).is_ok(), "{name}");
            let e = error_of(&input, input.len() - 1);
            assert!(matches!(e, HttpError::TooLarge { .. }), "{name}: {e:?}");
        }
        // Declared lengths beyond the cap fail before their bytes are awaited.
        let e = error_of(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nx", 100);
        assert_eq!(e.to_string(), "response larger than 100 bytes");
        let input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffff\r\nx";
        assert!(matches!(
            error_of(input, 100),
            HttpError::TooLarge { max_bytes: 100 }
        ));
        // A head that never ends is bounded too.
        let endless_header = [&b"HTTP/1.1 200 OK\r\nX: "[..], &[b'a'; 5000]].concat();
        assert!(matches!(
            error_of(&endless_header, 1000),
            HttpError::TooLarge { .. }
        ));
    }

    /// Found by fuzz/fuzz_targets/http.rs: one read used to take the
    /// whole cap plus a byte, so a bad head or a complete response followed
    /// by more bytes failed as too large, while the same bytes in small
    /// reads gave the real error, or the response.
    #[test]
    fn the_cap_counts_what_the_response_needs_however_the_reads_fall() {
        let garbage = [&b"garbage\r\n"[..], &[b'x'; 200]].concat();
        let e = error_of(&garbage, 50);
        assert!(matches!(e, HttpError::MalformedStatusLine(_)), "{e:?}");
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let followed = [&response[..], &[b'x'; 200]].concat();
        let body = get_bytes(&followed, response.len() + 10).unwrap().body;
        assert_eq!(body, b"ok");
        assert!(get_bytes(response, response.len()).is_ok());
        assert!(matches!(
            error_of(response, response.len() - 1),
            HttpError::TooLarge { .. }
        ));
    }

    #[test]
    fn reports_timeouts_as_such() {
        struct TimesOut;
        impl Read for TimesOut {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
        impl Write for TimesOut {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let e = get(TimesOut, "h", "/", MAX).unwrap_err();
        assert!(e.is_timeout());
        assert_eq!(e.to_string(), "timed out reading the response");
        assert!(!HttpError::Read(io::ErrorKind::ConnectionReset.into()).is_timeout());
    }
}
