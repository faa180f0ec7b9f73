//! A minimal HTTP/1.1 client: one `GET` per connection, over any byte stream.
//!
//! It reads responses as RFC 9112 frames them (§4 status line, §5 fields,
//! §6.3 body length, §7.1 chunked coding): a chunked body (extensions and
//! trailers skipped) wins over `Content-Length`, which must then be exact;
//! without either, the body ends when the server closes. The request says
//! `Connection: close`, so reading stops at the end of that one response.
//!
//! [`get`] reads the head and hands back the body as a [`Body`] that the
//! caller pulls piece by piece, so a large answer is never held whole.
//! Memory is bounded whatever the server sends: one fixed buffer of
//! [`READ_SIZE`] bytes, at most [`MAX_FIELDS`] header fields of at most
//! [`MAX_LINE_BYTES`] each, and every byte (head and framing included)
//! counted against the caller's `max_bytes`. Time is linear in the bytes
//! received: a line is scanned once however many reads it takes, and
//! unconsumed bytes move to the front of the buffer only when its end is
//! reached.
//!
//! It is generic over `Read + Write` so tests can feed it recorded bytes.
//! Timeouts belong to the stream: a read that times out surfaces as an
//! [`HttpError`] whose [`is_timeout`](HttpError::is_timeout) is true.

use std::fmt;
use std::io::{self, Read, Write};

use memchr::memchr;

use crate::text::parse_decimal;

/// The most header fields (and, separately, trailer fields) read. dockerd
/// sends about ten; a proxy in front of it adds a few. 100 is Apache
/// httpd's default `LimitRequestFields`, the usual ceiling for a head.
pub const MAX_FIELDS: usize = 100;
/// The longest line of the head or of the chunked framing, CRLF excluded.
/// dockerd's longest is its `Server` or `Date` line, under 100 bytes;
/// 8 KiB is about Apache's `LimitRequestFieldSize` (8190) and nginx's
/// header buffer (8k), which real servers stay far below.
pub const MAX_LINE_BYTES: usize = 8 << 10;
/// The one buffer's size, and the most one read asks for. Larger than
/// [`MAX_LINE_BYTES`], so a line that fits the limit always fits the buffer.
pub const READ_SIZE: usize = 64 << 10;

/// A response whose head has been read; its body is still on the stream.
#[derive(Debug)]
pub struct Response<S> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body<S>,
}

impl<S> Response<S> {
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
    /// A line of the named part longer than [`MAX_LINE_BYTES`]; `start`
    /// is its beginning.
    LineTooLong {
        part: &'static str,
        start: String,
    },
    /// More than [`MAX_FIELDS`] lines in the headers or the trailer.
    TooManyFields(&'static str),
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
                write!(f, "response larger than {}", size(*max_bytes as u64))
            }
            HttpError::NoResponse => f.write_str("connection closed without a response"),
            HttpError::MalformedStatusLine(line) => write!(f, "malformed status line \"{line}\""),
            HttpError::MalformedHeader(line) => write!(f, "malformed header \"{line}\""),
            HttpError::MalformedChunk(line) => write!(f, "malformed chunk \"{line}\""),
            HttpError::LineTooLong { part, start } => write!(
                f,
                "a line of the {part} longer than {} (\"{start}\")",
                size(MAX_LINE_BYTES as u64)
            ),
            HttpError::TooManyFields(part) => {
                write!(f, "more than {MAX_FIELDS} lines in the {part}")
            }
            HttpError::Truncated(part) => {
                write!(f, "connection closed in the middle of the {part}")
            }
        }
    }
}

impl std::error::Error for HttpError {}

/// A byte count for people: exact below 1 MiB, else in MiB ("64 MiB",
/// "41.3 MiB").
pub fn size(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    if bytes < MIB {
        let unit = if bytes == 1 { "byte" } else { "bytes" };
        format!("{bytes} {unit}")
    } else if bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

/// Sends `GET path` and reads the response's head, failing rather than
/// truncating once more than `max_bytes` (head and framing included)
/// arrive, then or while the body is read.
pub fn get<S: Read + Write>(
    mut stream: S,
    host: &str,
    path: &str,
    max_bytes: usize,
) -> Result<Response<S>, HttpError> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: cnetstat\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(HttpError::Write)?;
    read_head(Incoming::new(stream, max_bytes))
}

fn read_head<S: Read>(mut incoming: Incoming<S>) -> Result<Response<S>, HttpError> {
    let status_line = incoming.line("status line")?;
    let status = parse_status_line(incoming.slice(status_line))?;
    let mut headers = Vec::new();
    loop {
        let line = incoming.line("headers")?;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_FIELDS {
            return Err(HttpError::TooManyFields("headers"));
        }
        headers.push(parse_header(incoming.slice(line))?);
    }
    // RFC 9112 §6.3: these statuses never have a body, whatever the headers say.
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Done
    } else {
        match body_length(&headers)? {
            BodyLength::Chunked => Framing::Chunked(Chunk::Size),
            BodyLength::Exact(length) => {
                if length > incoming.body_budget() {
                    return Err(incoming.too_large());
                }
                Framing::Exact(length)
            }
            BodyLength::UntilClose => Framing::UntilClose,
        }
    };
    Ok(Response {
        status,
        headers,
        body: Body { incoming, framing },
    })
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

/// Where the body's framing stands.
#[derive(Debug)]
enum Framing {
    /// `Content-Length`: this many bytes still to come.
    Exact(usize),
    Chunked(Chunk),
    UntilClose,
    Done,
}

/// RFC 9112 §7.1: `size[;ext] CRLF data CRLF` until a zero size, then
/// trailer fields up to an empty line.
#[derive(Debug)]
enum Chunk {
    /// A chunk-size line comes next.
    Size,
    /// Inside a chunk of `size` bytes, `left` of them still to come.
    Data { size: usize, left: usize },
    /// The CRLF after a chunk's data comes next.
    DataEnd { size: usize },
}

/// The body of a [`Response`], decoded from its framing as it arrives.
#[derive(Debug)]
pub struct Body<S> {
    incoming: Incoming<S>,
    framing: Framing,
}

impl<S: Read> Body<S> {
    /// The next piece of the body, at most [`READ_SIZE`] bytes, straight
    /// from the receive buffer; empty once the body has ended. The piece
    /// is valid until the next call.
    pub fn next_piece(&mut self) -> Result<&[u8], HttpError> {
        self.next_piece_up_to(usize::MAX)
    }

    /// [`next_piece`](Body::next_piece), of at most `max` (> 0) bytes.
    fn next_piece_up_to(&mut self, max: usize) -> Result<&[u8], HttpError> {
        let span = loop {
            match &mut self.framing {
                Framing::Done => return Ok(&[]),
                Framing::Exact(0) => self.framing = Framing::Done,
                Framing::Exact(left) => {
                    let span = self.incoming.take((*left).min(max), "body")?;
                    *left -= span.len();
                    break span;
                }
                Framing::UntilClose => {
                    let span = self.incoming.take_until_close(max)?;
                    if span.is_empty() {
                        self.framing = Framing::Done;
                    }
                    break span;
                }
                Framing::Chunked(Chunk::Size) => {
                    let line = self.incoming.line("chunked body")?;
                    let size = parse_chunk_size(self.incoming.slice(line))?;
                    if size == 0 {
                        self.skip_trailer()?;
                        self.framing = Framing::Done;
                    } else if size > self.incoming.body_budget() {
                        return Err(self.incoming.too_large());
                    } else {
                        self.framing = Framing::Chunked(Chunk::Data { size, left: size });
                    }
                }
                Framing::Chunked(Chunk::Data { size, left: 0 }) => {
                    self.framing = Framing::Chunked(Chunk::DataEnd { size: *size })
                }
                Framing::Chunked(Chunk::Data { left, .. }) => {
                    let span = self.incoming.take((*left).min(max), "chunked body")?;
                    *left -= span.len();
                    break span;
                }
                Framing::Chunked(Chunk::DataEnd { size }) => {
                    let size = *size;
                    let end = self.incoming.line("chunked body")?;
                    if !end.is_empty() {
                        let after_data = self.incoming.slice(end);
                        return Err(HttpError::MalformedChunk(format!(
                            "{} (data longer than its size {size:x})",
                            excerpt(after_data)
                        )));
                    }
                    self.framing = Framing::Chunked(Chunk::Size);
                }
            }
        };
        Ok(self.incoming.slice(span))
    }

    fn skip_trailer(&mut self) -> Result<(), HttpError> {
        for _ in 0..=MAX_FIELDS {
            if self.incoming.line("trailer")?.is_empty() {
                return Ok(());
            }
        }
        Err(HttpError::TooManyFields("trailer"))
    }

    /// The rest of the body, collected (bounded by the cap `get` was given).
    #[cfg(any(test, fuzzing))]
    pub fn read_to_end(&mut self) -> Result<Vec<u8>, HttpError> {
        self.read_up_to(usize::MAX)
    }

    /// At most the next `limit` bytes of the body, or fewer if it ends first.
    pub fn read_up_to(&mut self, limit: usize) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        while body.len() < limit {
            let piece = self.next_piece_up_to(limit - body.len())?;
            if piece.is_empty() {
                break;
            }
            body.extend_from_slice(piece);
        }
        Ok(body)
    }

    /// Bytes received on the connection so far, head included.
    #[cfg(any(test, fuzzing))]
    pub fn received(&self) -> usize {
        self.incoming.source.received
    }
}

/// The stream, with a running count of bytes read against the cap.
#[derive(Debug)]
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

/// The response as it arrives, through one buffer of [`READ_SIZE`] bytes:
/// lines are cut from it, body pieces lent out of it.
#[derive(Debug)]
struct Incoming<S> {
    source: Capped<S>,
    buf: Box<[u8]>,
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

    fn len(self) -> usize {
        self.end - self.start
    }
}

impl<S: Read> Incoming<S> {
    fn new(stream: S, max_bytes: usize) -> Self {
        Incoming {
            source: Capped {
                stream,
                received: 0,
                max_bytes,
            },
            buf: vec![0; READ_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    fn slice(&self, span: Span) -> &[u8] {
        &self.buf[span.start..span.end]
    }

    /// How many more body bytes the cap allows, so that a huge declared
    /// length fails before anything is awaited for it.
    fn body_budget(&self) -> usize {
        self.source.max_bytes - self.source.received + (self.end - self.start)
    }

    fn too_large(&self) -> HttpError {
        HttpError::TooLarge {
            max_bytes: self.source.max_bytes,
        }
    }

    /// Appends one read after the unconsumed bytes, first moving them to
    /// the front if the buffer's end has been reached. They are fewer than
    /// `MAX_LINE_BYTES` then (a longer line has already failed), so each
    /// byte moves at most once per `READ_SIZE - MAX_LINE_BYTES` read.
    fn fill(&mut self) -> Result<usize, HttpError> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = self.source.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// The next line without its LF or CRLF, consumed.
    fn line(&mut self, part: &'static str) -> Result<Span, HttpError> {
        // How far from `start` the unconsumed bytes hold no LF.
        let mut scanned = 0;
        loop {
            let unscanned = &self.buf[self.start + scanned..self.end];
            if let Some(at) = memchr(b'\n', unscanned) {
                let lf = self.start + scanned + at;
                let end = if lf > self.start && self.buf[lf - 1] == b'\r' {
                    lf - 1
                } else {
                    lf
                };
                if end - self.start > MAX_LINE_BYTES {
                    return Err(self.line_too_long(part));
                }
                let span = Span {
                    start: self.start,
                    end,
                };
                self.start = lf + 1;
                return Ok(span);
            }
            scanned = self.end - self.start;
            // One more byte is allowed for the CR of a CRLF.
            if scanned > MAX_LINE_BYTES + 1 {
                return Err(self.line_too_long(part));
            }
            if self.fill()? == 0 {
                return Err(if self.source.received == 0 {
                    HttpError::NoResponse
                } else {
                    HttpError::Truncated(part)
                });
            }
        }
    }

    fn line_too_long(&self, part: &'static str) -> HttpError {
        HttpError::LineTooLong {
            part,
            start: excerpt(&self.buf[self.start..self.end]),
        }
    }

    /// Up to `max` (> 0) buffered bytes, reading once if none are; the
    /// connection may not close first.
    fn take(&mut self, max: usize, part: &'static str) -> Result<Span, HttpError> {
        if self.start == self.end && self.fill()? == 0 {
            return Err(HttpError::Truncated(part));
        }
        let len = max.min(self.end - self.start);
        let span = Span {
            start: self.start,
            end: self.start + len,
        };
        self.start += len;
        Ok(span)
    }

    /// Up to `max` buffered bytes, reading once if none are; empty when
    /// the server has closed.
    fn take_until_close(&mut self, max: usize) -> Result<Span, HttpError> {
        if self.start == self.end {
            self.fill()?;
        }
        let len = max.min(self.end - self.start);
        let span = Span {
            start: self.start,
            end: self.start + len,
        };
        self.start += len;
        Ok(span)
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

    /// A whole response: status, headers and body read to its end.
    #[derive(Debug, PartialEq)]
    struct Whole {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Whole {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    fn read_whole<S: Read + Write>(stream: S, max_bytes: usize) -> Result<Whole, HttpError> {
        let mut response = get(stream, "h", "/", max_bytes)?;
        let body = response.body.read_to_end()?;
        Ok(Whole {
            status: response.status,
            headers: response.headers,
            body,
        })
    }

    /// The response to `input`, the same whatever size the reads come in.
    fn get_bytes(input: &[u8], max_bytes: usize) -> Result<Whole, HttpError> {
        let whole = read_whole(&mut Mock::new(input, usize::MAX), max_bytes);
        for chunk in [1, 2, 7, 100] {
            let split = read_whole(&mut Mock::new(input, chunk), max_bytes);
            match (&whole, &split) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
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
                let e = match read_whole(&mut Mock::new(&input[..end], usize::MAX), MAX) {
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

    /// Found by fuzz/fuzz_targets/http.rs: one read took the whole cap
    /// plus a byte, so a bad head, or a complete response followed by more
    /// bytes, failed as too large in one read, while the same bytes in
    /// small reads gave the real error, or the response.
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

    /// Hands out `prefix`, then `len` copies of `fill`, then `suffix`,
    /// `chunk` bytes at most per read, without holding them.
    struct Generated {
        prefix: Vec<u8>,
        fill: u8,
        len: usize,
        suffix: Vec<u8>,
        chunk: usize,
        /// Bytes handed out so far.
        sent: usize,
    }

    impl Generated {
        fn new(prefix: &[u8], fill: u8, len: usize, suffix: &[u8], chunk: usize) -> Self {
            Generated {
                prefix: prefix.to_vec(),
                fill,
                len,
                suffix: suffix.to_vec(),
                chunk,
                sent: 0,
            }
        }
    }

    impl Read for Generated {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let total = self.prefix.len() + self.len + self.suffix.len();
            let n = buf.len().min(self.chunk).min(total - self.sent);
            for (i, byte) in buf[..n].iter_mut().enumerate() {
                let at = self.sent + i;
                *byte = if at < self.prefix.len() {
                    self.prefix[at]
                } else if at < self.prefix.len() + self.len {
                    self.fill
                } else {
                    self.suffix[at - self.prefix.len() - self.len]
                };
            }
            self.sent += n;
            Ok(n)
        }
    }

    impl Write for Generated {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn header_fields_are_limited_in_number_and_length() {
        let head = |fields: usize, value_len: usize| {
            let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..fields {
                input.extend_from_slice(format!("X-{i:03}: ").as_bytes());
                input.extend(std::iter::repeat(b'v').take(value_len));
                input.extend_from_slice(b"\r\n");
            }
            input.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
            input
        };
        // 99 + Content-Length: exactly the limit.
        let response = get_bytes(&head(MAX_FIELDS - 1, 10), MAX).unwrap();
        assert_eq!(response.headers.len(), MAX_FIELDS);
        assert_eq!(response.body, b"ok");
        let e = error_of(&head(MAX_FIELDS, 10), MAX);
        assert_eq!(e.to_string(), "more than 100 lines in the headers");

        // "X-000: " is 7 bytes: a line of exactly MAX_LINE_BYTES is fine.
        let response = get_bytes(&head(1, MAX_LINE_BYTES - 7), MAX).unwrap();
        assert_eq!(response.headers[0].1.len(), MAX_LINE_BYTES - 7);
        let e = error_of(&head(1, MAX_LINE_BYTES - 6), MAX);
        assert!(
            matches!(
                e,
                HttpError::LineTooLong {
                    part: "headers",
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "a line of the headers longer than 8192 bytes (\"X-000: {}…\")",
                "v".repeat(53)
            )
        );
        // The status line and the trailer are bounded too.
        let long_status = [&b"HTTP/1.1 200 "[..], &[b'x'; MAX_LINE_BYTES], b"\r\n\r\n"].concat();
        assert!(matches!(
            error_of(&long_status, MAX),
            HttpError::LineTooLong {
                part: "status line",
                ..
            }
        ));
        let mut trailer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
        for _ in 0..=MAX_FIELDS {
            trailer.extend_from_slice(b"T: x\r\n");
        }
        trailer.extend_from_slice(b"\r\n");
        let e = error_of(&trailer, MAX);
        assert_eq!(e.to_string(), "more than 100 lines in the trailer");
    }

    #[test]
    fn chunk_sizes_that_overflow_or_exceed_the_cap_fail_at_once() {
        for (size, too_large) in [
            ("ffffffffffffffffffffffff", false),
            ("10000000000000000", false),
            ("-1", false),
            ("+5", false),
            ("7fffffffffffffff", true),
            ("ffffffffffffffff", true),
            (&*format!("{:x}", MAX + 1), true),
        ] {
            let input =
                format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nhello");
            let e = error_of(input.as_bytes(), MAX);
            if too_large {
                assert!(matches!(e, HttpError::TooLarge { .. }), "{size}: {e:?}");
            } else {
                assert!(matches!(e, HttpError::MalformedChunk(_)), "{size}: {e:?}");
            }
        }
        // A chunk-size line is a line: bounded like the head's.
        let mut stream = Generated::new(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b'0',
            50 << 20,
            b"",
            READ_SIZE,
        );
        let mut response = get(&mut stream, "h", "/", 100 << 20).unwrap();
        let e = response.body.next_piece().unwrap_err();
        assert!(
            matches!(
                e,
                HttpError::LineTooLong {
                    part: "chunked body",
                    ..
                }
            ),
            "{e:?}"
        );
        drop(response);
        assert!(stream.sent <= 2 * READ_SIZE, "read {} bytes", stream.sent);
    }

    /// 50 MB without a line end, in small reads: as a header it fails
    /// after one buffer, and as a body it streams through the fixed buffer
    /// in time linear in its size.
    #[test]
    fn a_fifty_megabyte_line_costs_linear_time() {
        const LEN: usize = 50 << 20;
        let started = std::time::Instant::now();
        let mut stream = Generated::new(b"HTTP/1.1 200 OK\r\nX: ", b'a', LEN, b"\r\n\r\n", 1000);
        let e = get(&mut stream, "h", "/", 100 << 20).map(drop).unwrap_err();
        assert!(matches!(e, HttpError::LineTooLong { .. }), "{e:?}");
        assert!(
            stream.sent < 2 * MAX_LINE_BYTES,
            "read {} bytes",
            stream.sent
        );

        for head in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            format!("HTTP/1.1 200 OK\r\nContent-Length: {LEN}\r\n\r\n").as_bytes(),
        ] {
            let mut stream = Generated::new(head, b'a', LEN, b"", 4000);
            let mut response = get(&mut stream, "h", "/", 100 << 20).unwrap();
            let (mut total, mut pieces) = (0, 0);
            loop {
                let piece = response.body.next_piece().unwrap();
                if piece.is_empty() {
                    break;
                }
                assert!(piece.iter().all(|&b| b == b'a'));
                total += piece.len();
                pieces += 1;
            }
            assert_eq!(total, LEN);
            assert!(pieces >= LEN / 4000);
        }
        // Debug builds included: a quadratic scan of 50 MB would take hours.
        let elapsed = started.elapsed();
        assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
    }

    #[test]
    fn the_cap_counts_every_byte_of_a_streamed_body() {
        for head in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n",
        ] {
            let mut stream = Generated::new(head, b'a', 10 << 20, b"", READ_SIZE);
            let mut response = get(&mut stream, "h", "/", 1 << 20).unwrap();
            let e = loop {
                match response.body.next_piece() {
                    Ok(piece) => assert!(!piece.is_empty()),
                    Err(e) => break e,
                }
            };
            assert_eq!(e.to_string(), "response larger than 1 MiB");
            drop(response);
            assert!(stream.sent <= (1 << 20) + 1, "read {} bytes", stream.sent);
        }
    }

    #[test]
    fn reads_up_to_a_limit_and_counts_received_bytes() {
        let input = fixture("containers-small.http");
        let mut mock = Mock::new(&input, 100);
        let mut response = get(&mut mock, "h", "/", MAX).unwrap();
        let start = response.body.read_up_to(10).unwrap();
        assert_eq!(start, b"[{\"Id\":\"dd");
        assert!(response.body.received() < input.len());
        let rest = response.body.read_to_end().unwrap();
        assert_eq!(start.len() + rest.len(), 763);
        assert_eq!(response.body.received(), input.len());
        assert!(response.body.next_piece().unwrap().is_empty());
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(size(1), "1 byte");
        assert_eq!(size(1023), "1023 bytes");
        assert_eq!(size(1 << 20), "1 MiB");
        assert_eq!(size(64 << 20), "64 MiB");
        assert_eq!(size((41 << 20) + (3 << 20) / 10), "41.3 MiB");
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
        let e = get(TimesOut, "h", "/", MAX).map(drop).unwrap_err();
        assert!(e.is_timeout());
        assert_eq!(e.to_string(), "timed out reading the response");
        assert!(!HttpError::Read(io::ErrorKind::ConnectionReset.into()).is_timeout());
    }
}
