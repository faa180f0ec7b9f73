//! The HTTP/1.1 client, `names::http::get`, over a fake stream that hands
//! out the response in chunks the input chooses.
//!
//! Input: byte 0 holds in its low 4 bits how many chunk sizes follow
//! (0–15); byte 1 picks the response size cap (0: 1 MiB, n: 16·n bytes);
//! then the chunk sizes, one byte each, used in turn for every read (and
//! every write) and over again: n > 0 hands out at most n bytes, 0 fails
//! that read with `Interrupted`, which the client must retry. The rest is
//! what the server sends.
//!
//! Asserts: no panic; the request is the same whatever the write sizes;
//! the response read in one read, in the chosen chunks, and a byte at a
//! time is the same: the same status, headers and body, or the same error
//! with the same message; a response read whole is within the cap.
#![no_main]

use std::io::{self, Read, Write};

use cnetstat::names::http::{get, HttpError, Response};
use libfuzzer_sys::fuzz_target;

/// A stream that replays `input` in reads of the sizes `chunks` gives in
/// turn, and keeps what is written to it.
struct Chunked<'a> {
    input: &'a [u8],
    chunks: &'a [u8],
    next: usize,
    written: Vec<u8>,
}

impl<'a> Chunked<'a> {
    fn new(input: &'a [u8], chunks: &'a [u8]) -> Self {
        Chunked {
            input,
            chunks,
            next: 0,
            written: Vec::new(),
        }
    }

    /// The next chunk size; None means an interrupted call.
    fn chunk(&mut self) -> Option<usize> {
        if self.chunks.is_empty() {
            return Some(usize::MAX);
        }
        let size = self.chunks[self.next % self.chunks.len()];
        self.next += 1;
        (size > 0).then_some(usize::from(size))
    }
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let chunk = self.chunk().ok_or(io::ErrorKind::Interrupted)?;
        let n = buf.len().min(chunk).min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl Write for Chunked<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let chunk = self.chunk().ok_or(io::ErrorKind::Interrupted)?;
        let n = buf.len().min(chunk);
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const HOST: &str = "api.moby.localhost";
const PATH: &str = "/v1.41/containers/json";

fn fetch(input: &[u8], chunks: &[u8], max_bytes: usize) -> (Result<Response, HttpError>, Vec<u8>) {
    let mut stream = Chunked::new(input, chunks);
    let result = get(&mut stream, HOST, PATH, max_bytes);
    (result, stream.written)
}

/// What must be the same however the bytes arrive: status, headers and
/// body, or the error's kind and message.
type Outcome<'a> = Result<(u16, &'a [(String, String)], &'a [u8]), String>;

fn outcome(result: &Result<Response, HttpError>) -> Outcome<'_> {
    match result {
        Ok(r) => Ok((r.status, &r.headers, &r.body)),
        Err(e) => Err(format!("{}: {e}", kind(e))),
    }
}

fn kind(e: &HttpError) -> &'static str {
    match e {
        HttpError::Write(_) => "Write",
        HttpError::Read(_) => "Read",
        HttpError::TooLarge { .. } => "TooLarge",
        HttpError::NoResponse => "NoResponse",
        HttpError::MalformedStatusLine(_) => "MalformedStatusLine",
        HttpError::MalformedHeader(_) => "MalformedHeader",
        HttpError::MalformedChunk(_) => "MalformedChunk",
        HttpError::Truncated(_) => "Truncated",
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&[sizes, cap], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let sizes = usize::from(sizes & 0x0f);
    if rest.len() < sizes {
        return;
    }
    let (chunks, response) = rest.split_at(sizes);
    if !chunks.is_empty() && chunks.iter().all(|&size| size == 0) {
        return; // Every call interrupted: the client would rightly retry forever.
    }
    let max_bytes = if cap == 0 {
        1 << 20
    } else {
        16 * usize::from(cap)
    };

    let (whole, request) = fetch(response, &[], max_bytes);
    let expected = format!(
        "GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: cnetstat\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(request, expected.as_bytes());
    if let Ok(response) = &whole {
        assert!(response.body.len() <= max_bytes);
        assert!(response.status <= 999); // 3DIGIT; RFC 9110 §15 leaves the rest to the caller.
        assert!(!matches!(response.status, 100..=199 | 204 | 304) || response.body.is_empty());
    }

    for chunks in [chunks, &[1][..]] {
        let (split, request) = fetch(response, chunks, max_bytes);
        assert_eq!(request, expected.as_bytes());
        assert_eq!(
            outcome(&split),
            outcome(&whole),
            "reads of {chunks:?} differ from one read"
        );
    }
});
