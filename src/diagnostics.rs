//! Messages on stderr, all prefixed with the tool's name.

/// Warnings go to stderr as they happen, each once, prefixed like every
/// message of the tool.
pub fn warn(message: impl std::fmt::Display) {
    eprintln!("cnetstat: warning: {message}");
}

pub fn note(message: impl std::fmt::Display) {
    eprintln!("cnetstat: {message}");
}
