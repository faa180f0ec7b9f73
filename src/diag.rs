//! stderr, all prefixed with the tool's name and passed through the one
//! escaper: warnings carry paths and names from the node.

use crate::escape::for_terminal;

pub fn warn(line: &str) {
    eprintln!("cnetstat: warning: {}", for_terminal(line));
}

pub fn note(line: &str) {
    eprintln!("cnetstat: {}", for_terminal(line));
}

pub fn error(line: &str) {
    eprintln!("cnetstat: error: {}", for_terminal(line));
}
