//! Messages on stderr, all prefixed with the tool's name. They carry paths
//! and names from the node (mount points, container names), so control
//! characters are escaped as in the table: a crafted name must not drive
//! the terminal.

use crate::render::escape_controls;

pub fn warn(message: impl std::fmt::Display) {
    eprintln!(
        "cnetstat: warning: {}",
        escape_controls(&message.to_string())
    );
}

pub fn note(message: impl std::fmt::Display) {
    eprintln!("cnetstat: {}", escape_controls(&message.to_string()));
}
