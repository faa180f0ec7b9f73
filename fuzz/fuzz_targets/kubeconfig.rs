//! kubeconfigs: `parse::kubeconfig::select_current_context`, and the YAML
//! subset it reads them with, `parse::kubeconfig::yaml::parse`.
//!
//! Input: the file.
//!
//! Asserts: no panic, and no stack overflow however deep the nesting; an
//! error names the file, and a line of it (1 to the file's last) whenever
//! the file is YAML and the problem is about a node of it, never for JSON;
//! a YAML syntax error is the one the selection reports; a parsed YAML
//! tree is at most `MAX_DEPTH + 1` deep, and written back as block YAML
//! with every scalar double-quoted reads back the same tree; a JSON
//! kubeconfig, its values written as YAML, selects the same as the JSON
//! does; a selection names a context and a server, decoded inline material
//! encodes back to base64 that decodes the same, and every file it names is
//! absolute (a relative one taken from the kubeconfig's directory).
#![no_main]

use std::fmt::Write as _;
use std::path::Path;

use cnetstat::parse::kubeconfig::yaml::{self, Node, Value, MAX_DEPTH};
use cnetstat::parse::kubeconfig::{
    decode_base64, select_current_context, Credentials, KubeconfigError, Material, Problem,
    Selection,
};
use libfuzzer_sys::fuzz_target;

const PATH: &str = "/etc/kubernetes/fuzz.conf";

fuzz_target!(|data: &[u8]| {
    let path = Path::new(PATH);
    let selected = select_current_context(data, path);
    // select_current_context's own test for JSON.
    let is_json = data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    match &selected {
        Ok(selection) => check_selection(selection),
        Err(error) => check_error(error, data, is_json),
    }

    if is_json {
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
            return;
        };
        let tree = Tree::from_json(&json);
        let emitted = tree.to_yaml();
        // JSON nests up to serde_json's 128 levels, the YAML reader only to
        // MAX_DEPTH: a deeper document cannot be compared.
        if tree.height() > MAX_DEPTH {
            return;
        }
        let again = select_current_context(emitted.as_bytes(), path);
        assert_eq!(outcome(&again), outcome(&selected), "as YAML:\n{emitted}");
        return;
    }

    let root = match yaml::parse(data) {
        Ok(root) => root,
        Err(syntax) => {
            let error = selected.expect_err("a syntax error fails the selection");
            assert_eq!(error.line, Some(syntax.line));
            assert_eq!(error.problem, Problem::Syntax(syntax.message));
            return;
        }
    };
    let tree = Tree::from_yaml(&root);
    assert!(tree.height() <= MAX_DEPTH + 1, "{tree:?}");
    let emitted = tree.to_yaml();
    let again = yaml::parse(emitted.as_bytes())
        .unwrap_or_else(|e| panic!("{e:?} reading back:\n{emitted}"));
    assert_eq!(Tree::from_yaml(&again), tree, "read back from:\n{emitted}");
});

/// The line of `error`, within the file, whenever a node of YAML is at
/// fault; none for JSON, whose reader places no node.
fn check_error(error: &KubeconfigError, data: &[u8], is_json: bool) {
    let message = error.to_string();
    assert!(message.starts_with(&format!("kubeconfig {PATH}")), "{message}");
    if is_json {
        assert_eq!(error.line, None, "{message}");
        return;
    }
    let about_the_whole_file = matches!(
        error.problem,
        Problem::TooLarge { .. } | Problem::NotAMapping | Problem::NoCurrentContext
    );
    match error.line {
        Some(line) => {
            let lines = data.split(|&b| b == b'\n').count();
            assert!((1..=lines).contains(&line), "{message} ({lines} lines)");
            assert!(message.contains(&format!(", line {line}: ")), "{message}");
        }
        None => assert!(about_the_whole_file, "no line: {message}"),
    }
}

fn check_selection(selection: &Selection) {
    assert!(!selection.context.is_empty() && !selection.server.is_empty());
    let mut materials = vec![&selection.certificate_authority];
    match &selection.credentials {
        Credentials::Token(token) => assert!(!token.is_empty()),
        Credentials::TokenFile(file) => assert!(file.is_absolute(), "{file:?}"),
        Credentials::ClientCertificate { certificate, key } => materials.extend([certificate, key]),
        Credentials::Anonymous => {}
    }
    for material in materials {
        match material {
            Material::Inline(bytes) => {
                assert_eq!(decode_base64(&encode_base64(bytes)).as_ref(), Some(bytes))
            }
            Material::File(file) => assert!(file.is_absolute(), "{file:?}"),
        }
    }
}

/// What a selection gives, lines aside: the same values at other lines
/// must select the same.
fn outcome(selected: &Result<Selection, KubeconfigError>) -> Result<&Selection, &Problem> {
    selected.as_ref().map_err(|error| &error.problem)
}

/// Standard base64 with padding (RFC 4648 §4), as Go writes `[]byte`.
fn encode_base64(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for group in bytes.chunks(3) {
        let mut word = [0u8; 3];
        word[..group.len()].copy_from_slice(group);
        let bits = u32::from_be_bytes([0, word[0], word[1], word[2]]);
        for i in 0..4 {
            if i <= group.len() {
                text.push(DIGITS[(bits >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    text
}

/// A YAML tree without its line numbers, which change when it is written
/// again.
#[derive(Debug, PartialEq)]
enum Tree {
    Null,
    Scalar(String),
    Map(Vec<(String, Tree)>),
    Seq(Vec<Tree>),
}

impl Tree {
    fn from_yaml(node: &Node) -> Tree {
        match &node.value {
            Value::Null => Tree::Null,
            Value::Scalar(text) => Tree::Scalar(text.clone()),
            Value::Map(entries) => Tree::Map(
                entries
                    .iter()
                    .map(|entry| (entry.key.clone(), Tree::from_yaml(&entry.node)))
                    .collect(),
            ),
            Value::Seq(items) => Tree::Seq(items.iter().map(Tree::from_yaml).collect()),
        }
    }

    /// As kubeconfig.rs's `from_json` turns JSON into nodes: booleans and
    /// numbers become their text.
    fn from_json(json: &serde_json::Value) -> Tree {
        match json {
            serde_json::Value::Null => Tree::Null,
            serde_json::Value::Bool(b) => Tree::Scalar(b.to_string()),
            serde_json::Value::Number(n) => Tree::Scalar(n.to_string()),
            serde_json::Value::String(s) => Tree::Scalar(s.clone()),
            serde_json::Value::Array(items) => Tree::Seq(items.iter().map(Tree::from_json).collect()),
            serde_json::Value::Object(map) => Tree::Map(
                map.iter()
                    .map(|(key, value)| (key.clone(), Tree::from_json(value)))
                    .collect(),
            ),
        }
    }

    /// Levels below the root.
    fn height(&self) -> usize {
        let below = match self {
            Tree::Null | Tree::Scalar(_) => return 0,
            Tree::Map(entries) => entries.iter().map(|(_, tree)| tree.height()).max(),
            Tree::Seq(items) => items.iter().map(Tree::height).max(),
        };
        below.map_or(0, |height| height + 1)
    }

    /// Block YAML, two spaces a level, every scalar double-quoted, a null
    /// item a bare `-`. The
    /// first line is a comment, so that a document starting with `{` is
    /// not taken for JSON.
    fn to_yaml(&self) -> String {
        let mut out = String::from("# written again\n");
        match self.inline() {
            Some(text) => writeln!(out, "{text}").unwrap(),
            None => self.block(0, &mut out),
        }
        out
    }

    /// The tree on one line, unless it is a collection with something in it.
    fn inline(&self) -> Option<String> {
        match self {
            Tree::Null => Some("null".into()),
            Tree::Scalar(text) => Some(quoted(text)),
            Tree::Map(entries) if entries.is_empty() => Some("{}".into()),
            Tree::Seq(items) if items.is_empty() => Some("[]".into()),
            Tree::Map(_) | Tree::Seq(_) => None,
        }
    }

    /// A collection's lines at `indent`.
    fn block(&self, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        let children: Vec<(String, &Tree)> = match self {
            Tree::Map(entries) => entries
                .iter()
                .map(|(key, tree)| (format!("{pad}{}:", quoted(key)), tree))
                .collect(),
            Tree::Seq(items) => items.iter().map(|tree| (format!("{pad}-"), tree)).collect(),
            Tree::Null | Tree::Scalar(_) => unreachable!("only collections are blocks"),
        };
        for (lead, child) in children {
            out.push_str(&lead);
            match child.inline() {
                // A null item is a bare `-`, which the reader takes without
                // reading a node: `- null` one level deeper than the
                // deepest node allowed would be refused.
                Some(_) if matches!(self, Tree::Seq(_)) && *child == Tree::Null => out.push('\n'),
                Some(text) => writeln!(out, " {text}").unwrap(),
                None => {
                    out.push('\n');
                    child.block(indent + 2, out);
                }
            }
        }
    }
}

/// A double-quoted scalar: `"` and `\` escaped, control characters as
/// `\xNN`, the rest as is.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => write!(out, "\\{c}").unwrap(),
            c if c.is_ascii_control() => write!(out, "\\x{:02x}", u32::from(c)).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
