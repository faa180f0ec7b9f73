//! Rendering, the last step: views of a snapshot as an aligned table for
//! people or JSON Lines for programs.

pub mod json;
pub mod table;
