//! The subset of YAML that kubeconfigs are written in, parsed strictly.
//!
//! kubectl, kubeadm, k3s and the cloud CLIs write block mappings and block
//! sequences (a sequence may sit at its key's own indentation, as kubectl
//! writes `clusters:` then `- cluster:`), `- ` items holding mappings, plain
//! scalars (long ones folded over several lines, as gcloud writes
//! `installHint`), single- and double-quoted scalars, small flow collections
//! (`preferences: {}`, `args: ["a", "b"]`) and comments, in one document.
//! That is what is accepted. Block scalars (`|`, `>`), anchors, aliases,
//! tags, directives, several documents, tabs in indentation and duplicate
//! keys are errors naming the line: a file this parser would have to guess
//! about is refused, never half-read.
//!
//! The cursor only moves forward and every byte is looked at a bounded
//! number of times, so parsing is linear in the input; nesting is capped at
//! [`MAX_DEPTH`] so a hostile file cannot exhaust the stack.

use std::collections::HashMap;

use memchr::memchr;

/// Deeper than any kubeconfig goes (an exec user's `env` list is 6 levels
/// down), shallow enough that the recursion stays far from the stack limit.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, PartialEq)]
pub struct Node {
    /// 1-based line where the node starts; `None` for nodes read from JSON,
    /// which serde_json does not place.
    pub line: Option<usize>,
    pub value: Value,
}

#[derive(Debug, PartialEq)]
pub enum Value {
    Null,
    /// A scalar's text, quoted or plain. Plain `true` stays text: only the
    /// reader of a field knows whether it expects a boolean.
    Scalar(String),
    Map(Vec<Entry>),
    Seq(Vec<Node>),
}

#[derive(Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub line: Option<usize>,
    pub node: Node,
}

impl Node {
    /// The value of `key` in a mapping; `None` when absent or not a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.node)
    }

    /// The line of `key` itself, where messages about its value point.
    pub fn key_line(&self, key: &str) -> Option<usize> {
        self.entry(key).and_then(|e| e.line)
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }
}

#[derive(Debug, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

type Result<T> = std::result::Result<T, SyntaxError>;

/// Parses one YAML document. An empty document (only blanks and comments)
/// is `Null`.
pub fn parse(text: &[u8]) -> Result<Node> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut parser = Parser::new(text);
    parser.skip_blank()?;
    if !parser.eof && parser.rest_starts_with_directive() {
        return Err(parser.error("YAML directives (%YAML, %TAG) are not supported"));
    }
    if !parser.eof && parser.is_document_marker(b"---") {
        parser.pos += 3;
        if !parser.rest_is_blank() {
            return Err(parser.error("content after '---' on the same line is not supported"));
        }
        parser.next_line();
        parser.skip_blank()?;
    }
    let root = if parser.eof {
        Node {
            line: None,
            value: Value::Null,
        }
    } else {
        parser.block(-1, 0)?
    };
    parser.skip_blank()?;
    if parser.eof {
        return Ok(root);
    }
    if parser.is_document_marker(b"---") || parser.is_document_marker(b"...") {
        return Err(parser.error("only one YAML document is supported"));
    }
    Err(parser.error("unexpected text after the document (wrong indentation?)"))
}

struct Parser<'a> {
    text: &'a [u8],
    eof: bool,
    /// 1-based number of the current line.
    line_no: usize,
    line_start: usize,
    /// End of the current line's content, before `\r\n` or `\n`.
    line_end: usize,
    /// Next unread byte of the current line.
    pos: usize,
    /// Column where the current line's unread content starts: its leading
    /// spaces, or, after a `- ` was read, the column of the item's content.
    indent: usize,
    /// Whether a tab came before the first non-space byte of the line.
    tab_in_indent: bool,
}

impl<'a> Parser<'a> {
    fn new(text: &'a [u8]) -> Self {
        let mut parser = Parser {
            text,
            eof: false,
            line_no: 0,
            line_start: 0,
            line_end: 0,
            pos: 0,
            indent: 0,
            tab_in_indent: false,
        };
        parser.load_line(0);
        parser
    }

    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            line: self.line_no,
            message: message.into(),
        }
    }

    fn load_line(&mut self, start: usize) {
        self.line_no += 1;
        self.line_start = start;
        self.line_end = match memchr(b'\n', &self.text[start..]) {
            Some(i) => start + i,
            None => self.text.len(),
        };
        if self.line_end > start && self.text[self.line_end - 1] == b'\r' {
            self.line_end -= 1;
        }
        let spaces = self.text[start..self.line_end]
            .iter()
            .take_while(|&&b| b == b' ')
            .count();
        self.pos = start + spaces;
        self.indent = spaces;
        self.tab_in_indent = self.text.get(self.pos) == Some(&b'\t');
    }

    fn next_line(&mut self) {
        match memchr(b'\n', &self.text[self.line_end..]) {
            Some(i) => self.load_line(self.line_end + i + 1),
            None => {
                self.eof = true;
                self.pos = self.line_end;
            }
        }
    }

    fn rest(&self) -> &'a [u8] {
        &self.text[self.pos..self.line_end]
    }

    fn peek(&self) -> Option<u8> {
        self.rest().first().copied()
    }

    /// Whether the unread part of the line is only whitespace or a comment.
    fn rest_is_blank(&self) -> bool {
        match self.rest().iter().find(|&&b| b != b' ' && b != b'\t') {
            None => true,
            Some(&b) => b == b'#',
        }
    }

    fn line_is_whitespace(&self) -> bool {
        self.rest().iter().all(|&b| b == b' ' || b == b'\t')
    }

    /// Moves to the next line holding content, past blank and comment lines.
    fn skip_blank(&mut self) -> Result<()> {
        while !self.eof && self.rest_is_blank() {
            self.next_line();
        }
        if !self.eof && self.tab_in_indent {
            return Err(self.error("tab in indentation (YAML allows only spaces)"));
        }
        Ok(())
    }

    fn is_document_marker(&self, marker: &[u8]) -> bool {
        let line = &self.text[self.line_start..self.line_end];
        line.starts_with(marker)
            && matches!(line.get(marker.len()), None | Some(b' ') | Some(b'\t'))
    }

    fn rest_starts_with_directive(&self) -> bool {
        self.pos == self.line_start && self.peek() == Some(b'%')
    }

    fn at_sequence_item(&self) -> bool {
        let rest = self.rest();
        rest.first() == Some(&b'-') && matches!(rest.get(1), None | Some(b' '))
    }

    fn skip_inline_space(&mut self) {
        while self.pos < self.line_end && matches!(self.text[self.pos], b' ' | b'\t') {
            self.pos += 1;
        }
    }

    /// A node starting at the cursor, which is on content indented more
    /// than `parent`.
    fn block(&mut self, parent: isize, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let indent = self.indent;
        if self.at_sequence_item() {
            return self.sequence(indent, depth);
        }
        let line = self.line_no;
        if let Some(key) = self.key()? {
            return self.mapping(key, line, indent, depth);
        }
        self.inline_value(parent, depth)
    }

    /// A block mapping at column `indent` whose first key has been read.
    fn mapping(
        &mut self,
        first_key: String,
        line: usize,
        indent: usize,
        depth: usize,
    ) -> Result<Node> {
        let mut entries = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let (mut key, mut key_line) = (first_key, line);
        loop {
            if let Some(first) = seen.insert(key.clone(), key_line) {
                return Err(SyntaxError {
                    line: key_line,
                    message: format!(
                        "key \"{key}\" appears twice in one mapping (first on line {first})"
                    ),
                });
            }
            let node = self.value_after_key(indent, depth)?;
            entries.push(Entry {
                key,
                line: Some(key_line),
                node,
            });
            self.skip_blank()?;
            if self.eof || self.indent < indent {
                break;
            }
            if self.indent > indent {
                return Err(self.error("unexpected indentation"));
            }
            key_line = self.line_no;
            key = match self.key()? {
                Some(key) => key,
                None if self.is_document_marker(b"---") || self.is_document_marker(b"...") => {
                    return Err(self.error("only one YAML document is supported"))
                }
                None if self.at_sequence_item() => {
                    return Err(self.error("a list item where a 'key: value' line was expected"))
                }
                None => return Err(self.error("expected a 'key: value' line")),
            };
        }
        Ok(Node {
            line: Some(line),
            value: Value::Map(entries),
        })
    }

    /// The value of a key just read from a mapping at column `indent`:
    /// on the same line, or on the lines below.
    fn value_after_key(&mut self, indent: usize, depth: usize) -> Result<Node> {
        if !self.rest_is_blank() {
            return self.inline_value(indent as isize, depth + 1);
        }
        let line = self.line_no;
        self.next_line();
        self.skip_blank()?;
        if !self.eof && self.indent > indent {
            return self.block(indent as isize, depth + 1);
        }
        // kubectl writes a mapping's sequences at the key's own indentation.
        if !self.eof && self.indent == indent && self.at_sequence_item() {
            return self.sequence(indent, depth + 1);
        }
        Ok(Node {
            line: Some(line),
            value: Value::Null,
        })
    }

    /// A block sequence whose `-` items sit at column `indent`.
    fn sequence(&mut self, indent: usize, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let line = self.line_no;
        let mut items = Vec::new();
        loop {
            let item_line = self.line_no;
            self.pos += 1;
            if self.rest_is_blank() {
                self.next_line();
                self.skip_blank()?;
                if !self.eof && self.indent > indent {
                    items.push(self.block(indent as isize, depth + 1)?);
                } else {
                    items.push(Node {
                        line: Some(item_line),
                        value: Value::Null,
                    });
                }
            } else {
                self.skip_inline_space();
                // The item's content is a node of its own, starting here: a
                // mapping in it continues on lines indented to this column.
                self.indent = self.pos - self.line_start;
                items.push(self.block(indent as isize, depth + 1)?);
            }
            self.skip_blank()?;
            if self.eof || self.indent != indent || !self.at_sequence_item() {
                break;
            }
        }
        Ok(Node {
            line: Some(line),
            value: Value::Seq(items),
        })
    }

    /// Reads `key:` (plain or quoted) and the blanks after the colon, or
    /// returns `None` with the cursor unmoved when the line holds no key.
    fn key(&mut self) -> Result<Option<String>> {
        let rest = self.rest();
        let Some(&first) = rest.first() else {
            return Ok(None);
        };
        let (key, after_key) = match first {
            b'"' | b'\'' => {
                // A key is one line long, so a quote that does not close on
                // this line starts a (multi-line) quoted value instead.
                let Some(close) = closing_quote(rest, first) else {
                    return Ok(None);
                };
                let after = rest[close + 1..]
                    .iter()
                    .take_while(|&&b| b == b' ' || b == b'\t')
                    .count();
                if !is_colon_indicator(&rest[close + 1 + after..]) {
                    return Ok(None);
                }
                let quoted = scan_quoted(self.text, self.pos, self.line_no, -1)
                    .map_err(|message| self.error(message))?;
                (self.utf8(quoted.text)?, close + 1 + after)
            }
            b'[' | b'{' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`' | b',' => {
                return Ok(None)
            }
            b'?' if matches!(rest.get(1), None | Some(b' ')) => {
                return Err(self.error("complex keys ('? ') are not supported"))
            }
            _ => {
                let Some(colon) = plain_key_end(rest) else {
                    return Ok(None);
                };
                let key = trim_end(&rest[..colon]);
                if key.is_empty() {
                    return Err(self.error("empty key"));
                }
                (self.utf8(key.to_vec())?, colon)
            }
        };
        self.pos += after_key + 1;
        self.skip_inline_space();
        Ok(Some(key))
    }

    /// A scalar or flow collection starting at the cursor, owned by a node
    /// at column `owner`; leaves the cursor on the line after it.
    fn inline_value(&mut self, owner: isize, depth: usize) -> Result<Node> {
        let line = self.line_no;
        let rest = self.rest();
        let value = match rest[0] {
            b'"' | b'\'' => {
                let quoted = scan_quoted(self.text, self.pos, self.line_no, owner)
                    .map_err(|message| self.error(message))?;
                self.jump(quoted.end, quoted.end_line, quoted.end_line_start);
                Value::Scalar(self.utf8_at(quoted.text, line)?)
            }
            b'[' | b'{' => {
                let mut flow = Flow {
                    text: self.text,
                    at: self.pos,
                    line: self.line_no,
                    line_start: self.line_start,
                    start_line: self.line_no,
                };
                let value = flow.node(depth)?.value;
                self.jump(flow.at, flow.line, flow.line_start);
                value
            }
            b'|' | b'>' => return Err(self.error("block scalars ('|', '>') are not supported")),
            b'&' | b'*' | b'!' => {
                return Err(
                    self.error("anchors, aliases and tags ('&', '*', '!') are not supported")
                )
            }
            b'%' | b'@' | b'`' => {
                return Err(self.error(format!("a value cannot start with '{}'", rest[0] as char)))
            }
            b'-' | b'?' | b':' if matches!(rest.get(1), None | Some(b' ') | Some(b'\t')) => {
                return Err(self.error(format!(
                    "unexpected '{}' (a value cannot start with an indicator)",
                    rest[0] as char
                )))
            }
            _ => return self.plain(owner),
        };
        if !self.rest_is_blank() {
            return Err(self.error("unexpected text after the value"));
        }
        self.next_line();
        Ok(Node {
            line: Some(line),
            value,
        })
    }

    /// A plain scalar, folded over the following lines indented more than
    /// `owner` as YAML folds them (a line break is a space, each empty line
    /// a newline); a comment line ends it.
    fn plain(&mut self, owner: isize) -> Result<Node> {
        let line = self.line_no;
        let mut text = self.plain_line()?.to_vec();
        loop {
            self.next_line();
            let mut empty_lines = 0;
            while !self.eof && self.line_is_whitespace() {
                empty_lines += 1;
                self.next_line();
            }
            if self.eof || self.peek() == Some(b'#') || self.indent as isize <= owner {
                break;
            }
            if self.tab_in_indent {
                return Err(self.error("tab in indentation (YAML allows only spaces)"));
            }
            match empty_lines {
                0 => text.push(b' '),
                n => text.extend(std::iter::repeat_n(b'\n', n)),
            }
            text.extend_from_slice(self.plain_line()?);
        }
        let value = match text.as_slice() {
            b"" | b"~" | b"null" | b"Null" | b"NULL" => Value::Null,
            _ => Value::Scalar(self.utf8_at(text, line)?),
        };
        Ok(Node {
            line: Some(line),
            value,
        })
    }

    /// The rest of the line as one line of a plain scalar: up to a comment,
    /// trimmed.
    fn plain_line(&self) -> Result<&'a [u8]> {
        let rest = self.rest();
        let mut end = rest.len();
        for (i, &b) in rest.iter().enumerate() {
            if b == b'#' && i > 0 && matches!(rest[i - 1], b' ' | b'\t') {
                end = i;
                break;
            }
            if b == b':' && matches!(rest.get(i + 1), None | Some(b' ') | Some(b'\t')) {
                return Err(self
                    .error("': ' inside a plain value (quote the value, or fix the indentation)"));
            }
        }
        Ok(trim(&rest[..end]))
    }

    /// Puts the cursor at `offset`, on line `line_no` starting at `line_start`,
    /// after a quoted scalar or flow collection that may span lines.
    fn jump(&mut self, offset: usize, line_no: usize, line_start: usize) {
        if line_no != self.line_no {
            self.load_line(line_start);
            self.line_no = line_no;
        }
        self.pos = offset;
    }

    fn utf8(&self, bytes: Vec<u8>) -> Result<String> {
        self.utf8_at(bytes, self.line_no)
    }

    fn utf8_at(&self, bytes: Vec<u8>, line: usize) -> Result<String> {
        String::from_utf8(bytes).map_err(|_| SyntaxError {
            line,
            message: "text is not UTF-8".into(),
        })
    }
}

/// Whether `rest` starts with a `:` that separates a key from its value.
fn is_colon_indicator(rest: &[u8]) -> bool {
    rest.first() == Some(&b':') && matches!(rest.get(1), None | Some(b' ') | Some(b'\t'))
}

/// Where the `:` of a plain `key:` is, unless a comment starts first.
fn plain_key_end(rest: &[u8]) -> Option<usize> {
    for (i, &b) in rest.iter().enumerate() {
        if b == b'#' && i > 0 && matches!(rest[i - 1], b' ' | b'\t') {
            return None;
        }
        if is_colon_indicator(&rest[i..]) {
            return Some(i);
        }
    }
    None
}

/// The index of the quote closing the quoted scalar that `line` starts
/// with, if it closes on this line.
fn closing_quote(line: &[u8], quote: u8) -> Option<usize> {
    let mut i = 1;
    while i < line.len() {
        match line[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && line.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    trim_end(&bytes[start..])
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

struct Quoted {
    text: Vec<u8>,
    /// Offset just after the closing quote.
    end: usize,
    end_line: usize,
    end_line_start: usize,
}

/// Decodes the single- or double-quoted scalar opening at `start` (on line
/// `line`), folding line breaks as YAML does. Continuation lines must be
/// indented more than `owner`, the column of the node the scalar belongs to.
fn scan_quoted(
    text: &[u8],
    start: usize,
    line: usize,
    owner: isize,
) -> std::result::Result<Quoted, String> {
    let quote = text[start];
    let kind = if quote == b'"' { "double" } else { "single" };
    let described = format!("{kind}-quoted string starting on line {line}");
    let mut out = Vec::new();
    // Where the run of literal blanks at the end of `out` starts: a line
    // break drops them, escaped blanks (`\t`) stay.
    let mut blanks_from: Option<usize> = None;
    let (mut line_no, mut line_start) = (line, 0);
    let mut i = start + 1;
    loop {
        let Some(&b) = text.get(i) else {
            return Err(format!("unterminated {described}"));
        };
        match b {
            b'\'' if quote == b'\'' && text.get(i + 1) == Some(&b'\'') => {
                out.push(b'\'');
                blanks_from = None;
                i += 2;
            }
            _ if b == quote => {
                return Ok(Quoted {
                    text: out,
                    end: i + 1,
                    end_line: line_no,
                    end_line_start: if line_no == line { 0 } else { line_start },
                })
            }
            b'\\' if quote == b'"' && matches!(text.get(i + 1), Some(b'\n') | Some(b'\r')) => {
                // An escaped line break joins the lines without a space.
                i += 1;
                let folded = fold(text, i, &mut line_no, &mut line_start, owner, &described)?;
                out.extend(std::iter::repeat_n(b'\n', folded.empty_lines));
                i = folded.next;
                blanks_from = None;
            }
            b'\\' if quote == b'"' => {
                i = escape(text, i, &mut out)?;
                blanks_from = None;
            }
            b'\n' | b'\r' => {
                if let Some(from) = blanks_from.take() {
                    out.truncate(from);
                }
                let folded = fold(text, i, &mut line_no, &mut line_start, owner, &described)?;
                match folded.empty_lines {
                    0 => out.push(b' '),
                    n => out.extend(std::iter::repeat_n(b'\n', n)),
                }
                i = folded.next;
            }
            b' ' | b'\t' => {
                blanks_from.get_or_insert(out.len());
                out.push(b);
                i += 1;
            }
            _ => {
                out.push(b);
                blanks_from = None;
                i += 1;
            }
        }
    }
}

struct Folded {
    empty_lines: usize,
    /// Offset of the first content byte of the continuation line.
    next: usize,
}

/// Steps over the line break at `i` inside the `described` quoted string
/// and any empty lines after it, to the first content byte of the next
/// line, which must be indented more than `owner`.
fn fold(
    text: &[u8],
    mut i: usize,
    line_no: &mut usize,
    line_start: &mut usize,
    owner: isize,
    described: &str,
) -> std::result::Result<Folded, String> {
    let mut empty_lines = 0;
    loop {
        if text.get(i) == Some(&b'\r') {
            i += 1;
        }
        if text.get(i) != Some(&b'\n') {
            return Err(format!("stray carriage return on line {line_no}"));
        }
        i += 1;
        *line_no += 1;
        *line_start = i;
        let spaces = text[i..].iter().take_while(|&&b| b == b' ').count();
        let mut j = i + spaces;
        while matches!(text.get(j), Some(b' ') | Some(b'\t')) {
            j += 1;
        }
        match text.get(j) {
            None => return Err(format!("unterminated {described}")),
            Some(b'\n') | Some(b'\r') => {
                empty_lines += 1;
                i = j;
            }
            Some(_) if spaces as isize <= owner => {
                return Err(format!(
                    "the {described} is still open on line {line_no}, which is not indented \
                     past its key (a missing closing quote?)"
                ))
            }
            Some(_) => {
                return Ok(Folded {
                    empty_lines,
                    next: j,
                })
            }
        }
    }
}

/// Decodes the double-quoted escape at `text[i] == b'\\'`, appending it to
/// `out`; returns the offset after it.
fn escape(text: &[u8], i: usize, out: &mut Vec<u8>) -> std::result::Result<usize, String> {
    let Some(&code) = text.get(i + 1) else {
        return Err("unterminated escape".into());
    };
    let simple = match code {
        b'0' => Some("\0"),
        b'a' => Some("\x07"),
        b'b' => Some("\x08"),
        b't' | b'\t' => Some("\t"),
        b'n' => Some("\n"),
        b'v' => Some("\x0b"),
        b'f' => Some("\x0c"),
        b'r' => Some("\r"),
        b'e' => Some("\x1b"),
        b' ' => Some(" "),
        b'"' => Some("\""),
        b'/' => Some("/"),
        b'\\' => Some("\\"),
        b'N' => Some("\u{85}"),
        b'_' => Some("\u{a0}"),
        b'L' => Some("\u{2028}"),
        b'P' => Some("\u{2029}"),
        _ => None,
    };
    if let Some(decoded) = simple {
        out.extend_from_slice(decoded.as_bytes());
        return Ok(i + 2);
    }
    let digits = match code {
        b'x' => 2,
        b'u' => 4,
        b'U' => 8,
        _ => return Err(format!("unknown escape '\\{}'", code.escape_ascii())),
    };
    let hex = text
        .get(i + 2..i + 2 + digits)
        .ok_or("unterminated escape")?;
    let value = std::str::from_utf8(hex)
        .ok()
        .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or_else(|| format!("bad escape '\\{}{}'", code as char, hex.escape_ascii()))?;
    let c = char::from_u32(value).ok_or_else(|| {
        format!(
            "escape '\\{}{}' is not a character",
            code as char,
            hex.escape_ascii()
        )
    })?;
    let mut buf = [0; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    Ok(i + 2 + digits)
}

/// A flow collection (`[a, "b"]`, `{k: v}`), which may span lines.
struct Flow<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
    line_start: usize,
    start_line: usize,
}

impl Flow<'_> {
    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            line: self.line,
            message: message.into(),
        }
    }

    fn node(&mut self, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let line = Some(self.line);
        match self.text.get(self.at) {
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                let mut first = true;
                while self.before_next_item(b']', &mut first)? {
                    items.push(self.node(depth + 1)?);
                }
                Ok(Node {
                    line,
                    value: Value::Seq(items),
                })
            }
            Some(b'{') => {
                self.at += 1;
                let mut entries = Vec::new();
                let mut seen: HashMap<String, usize> = HashMap::new();
                let mut first = true;
                while self.before_next_item(b'}', &mut first)? {
                    let key_line = self.line;
                    let key = match self.node(depth + 1)?.value {
                        Value::Scalar(key) => key,
                        _ => return Err(self.error("flow mapping keys must be scalars")),
                    };
                    if let Some(first) = seen.insert(key.clone(), key_line) {
                        return Err(self.error(format!(
                            "key \"{key}\" appears twice in one mapping (first on line {first})"
                        )));
                    }
                    self.blanks()?;
                    if self.text.get(self.at) != Some(&b':') {
                        return Err(self
                            .error(format!("expected ':' after the flow mapping key \"{key}\"")));
                    }
                    self.at += 1;
                    self.blanks()?;
                    let node = self.node(depth + 1)?;
                    entries.push(Entry {
                        key,
                        line: Some(key_line),
                        node,
                    });
                }
                Ok(Node {
                    line,
                    value: Value::Map(entries),
                })
            }
            Some(b'"') | Some(b'\'') => {
                let start_line = self.line;
                let quoted = scan_quoted(self.text, self.at, self.line, -1)
                    .map_err(|message| self.error(message))?;
                if quoted.end_line != self.line {
                    self.line = quoted.end_line;
                    self.line_start = quoted.end_line_start;
                }
                self.at = quoted.end;
                let text = String::from_utf8(quoted.text).map_err(|_| SyntaxError {
                    line: start_line,
                    message: "text is not UTF-8".into(),
                })?;
                Ok(Node {
                    line,
                    value: Value::Scalar(text),
                })
            }
            _ => self.plain(),
        }
    }

    /// Skips blanks, line breaks and comments.
    fn blanks(&mut self) -> Result<()> {
        loop {
            match self.text.get(self.at) {
                Some(b' ') | Some(b'\t') | Some(b'\r') => self.at += 1,
                Some(b'\n') => {
                    self.at += 1;
                    self.line += 1;
                    self.line_start = self.at;
                }
                Some(b'#') => {
                    self.at = memchr(b'\n', &self.text[self.at..])
                        .map_or(self.text.len(), |i| self.at + i);
                }
                Some(_) => return Ok(()),
                None => {
                    return Err(SyntaxError {
                        line: self.start_line,
                        message: format!(
                            "unterminated flow collection starting on line {}",
                            self.start_line
                        ),
                    })
                }
            }
        }
    }

    /// Steps to the next item of a collection closed by `close`: over the
    /// comma after the previous item, unless this is the `first`. False
    /// (and past `close`) at its end.
    fn before_next_item(&mut self, close: u8, first: &mut bool) -> Result<bool> {
        self.blanks()?;
        if !std::mem::replace(first, false) {
            match self.text.get(self.at) {
                Some(&b) if b == close => {}
                Some(b',') => {
                    self.at += 1;
                    self.blanks()?;
                }
                _ => {
                    return Err(self.error(format!(
                        "expected ',' or '{}' in a flow collection",
                        close as char
                    )))
                }
            }
        }
        match self.text.get(self.at) {
            Some(&b) if b == close => {
                self.at += 1;
                Ok(false)
            }
            Some(b',') => Err(self.error("empty entry in a flow collection")),
            _ => Ok(true),
        }
    }

    /// A plain scalar inside a flow collection: up to a flow indicator, a
    /// `: `, a comment or the end of the line.
    fn plain(&mut self) -> Result<Node> {
        let line = Some(self.line);
        let start = self.at;
        while let Some(&b) = self.text.get(self.at) {
            let ends = match b {
                b',' | b'[' | b']' | b'{' | b'}' | b'\n' | b'\r' => true,
                b':' => matches!(
                    self.text.get(self.at + 1),
                    None | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}')
                ),
                b'#' => matches!(
                    self.text.get(self.at.wrapping_sub(1)),
                    Some(b' ') | Some(b'\t')
                ),
                _ => false,
            };
            if ends {
                break;
            }
            self.at += 1;
        }
        let text = trim(&self.text[start..self.at]);
        let Some(&first) = text.first() else {
            let found = self
                .text
                .get(self.at)
                .map_or("the end of the file".to_string(), |b| {
                    format!("'{}'", b.escape_ascii())
                });
            return Err(self.error(format!("unexpected {found} in a flow collection")));
        };
        if matches!(first, b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`') {
            return Err(self.error("anchors, aliases, tags and block scalars are not supported"));
        }
        let value = match text {
            b"~" | b"null" | b"Null" | b"NULL" => Value::Null,
            _ => Value::Scalar(
                String::from_utf8(text.to_vec()).map_err(|_| self.error("text is not UTF-8"))?,
            ),
        };
        Ok(Node { line, value })
    }
}
