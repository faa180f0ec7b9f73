//! Rendering, the last step: views of a snapshot as an aligned table for
//! people or JSON Lines for programs, and `--watch`'s frames and rows.

pub mod json;
pub mod screen;
pub mod table;
pub mod watch_json;
