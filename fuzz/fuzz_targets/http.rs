//! The HTTP/1.1 client, `names::http::get` and its streaming `Body`, over
//! a fake stream that hands out the response in chunks the input chooses.
//!
//! Input: byte 0 holds in its low 4 bits how many chunk sizes follow and
//! in its high 4 bits how many pull sizes follow them (0–15 each); byte 1
//! picks the response size cap (0: 1 MiB, n: 16·n bytes); then the chunk
//! sizes, one byte each, used in turn for every read (and every write) and
//! over again: n > 0 hands out at most n bytes, 0 fails that call with
//! `Interrupted`, which the client must retry. Then the pull sizes, used in
//! turn to take the body: n > 0 is `read_up_to(n)`, 0 is `next_piece()`;
//! none means `read_to_end()`. The rest is what the server sends.
//!
//! Asserts: no panic; the request is the same whatever the write sizes;
//! the response read in one read and taken whole, read in the chosen
//! chunks and pulls, and read and pulled a byte at a time is the same: the
//! same status, headers and body, or the same error (head or body) with
//! the same message; a pull gives at most what it asked for, and an ended
//! body stays ended; a response read without error received at most the
//! cap, and bodiless statuses have no body.
#![no_main]

use std::io::{self, Read, Write};

use cnetstat::names::http::{get, Body};
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

/// What must be the same however the bytes arrive and the body is taken.
/// Errors are compared by their Debug form: variant, fields and message.
#[derive(Debug, PartialEq)]
enum Outcome {
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Result<Vec<u8>, String>,
    },
    Failed(String),
}

/// Sends the request over `input` read in `chunks`, takes the body in
/// `pulls`; the outcome and what was written.
fn fetch(input: &[u8], chunks: &[u8], pulls: &[u8], max_bytes: usize) -> (Outcome, Vec<u8>) {
    let mut stream = Chunked::new(input, chunks);
    let outcome = match get(&mut stream, HOST, PATH, max_bytes) {
        Err(e) => Outcome::Failed(format!("{e:?}")),
        Ok(mut response) => {
            let body = take_body(&mut response.body, pulls).map_err(|e| format!("{e:?}"));
            if let Ok(body) = &body {
                assert!(body.len() <= max_bytes);
                assert!(response.body.received() <= max_bytes);
                // RFC 9112 §6.3: whatever the headers say.
                if matches!(response.status, 100..=199 | 204 | 304) {
                    assert!(body.is_empty());
                }
            }
            Outcome::Response {
                status: response.status,
                headers: response.headers,
                body,
            }
        }
    };
    (outcome, stream.written)
}

fn take_body<S: Read>(
    body: &mut Body<S>,
    pulls: &[u8],
) -> Result<Vec<u8>, cnetstat::names::http::HttpError> {
    if pulls.is_empty() {
        return body.read_to_end();
    }
    let mut taken = Vec::new();
    for &size in pulls.iter().cycle() {
        let piece = if size == 0 {
            body.next_piece()?.to_vec()
        } else {
            let piece = body.read_up_to(usize::from(size))?;
            assert!(piece.len() <= usize::from(size));
            piece
        };
        if piece.is_empty() {
            break;
        }
        taken.extend_from_slice(&piece);
    }
    assert!(body.next_piece()?.is_empty(), "an ended body gave more");
    Ok(taken)
}

fuzz_target!(|data: &[u8]| {
    let Some((&[counts, cap], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let (chunk_count, pull_count) = (usize::from(counts & 0x0f), usize::from(counts >> 4));
    if rest.len() < chunk_count + pull_count {
        return;
    }
    let (chunks, rest) = rest.split_at(chunk_count);
    let (pulls, response) = rest.split_at(pull_count);
    if !chunks.is_empty() && chunks.iter().all(|&size| size == 0) {
        return; // Every call interrupted: the client would rightly retry forever.
    }
    let max_bytes = if cap == 0 {
        1 << 20
    } else {
        16 * usize::from(cap)
    };

    let expected_request = format!(
        "GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: cnetstat\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    );
    let (whole, request) = fetch(response, &[], &[], max_bytes);
    assert_eq!(request, expected_request.as_bytes());
    for (chunks, pulls) in [(chunks, pulls), (&[1][..], &[1][..])] {
        let (split, request) = fetch(response, chunks, pulls, max_bytes);
        assert_eq!(request, expected_request.as_bytes());
        assert_eq!(
            split, whole,
            "reads of {chunks:?} and pulls of {pulls:?} differ from one read taken whole"
        );
    }
});
