//! Views of a snapshot, each a pure function of it: who owns each socket,
//! which rows a filter keeps, in what order, grouped how, and what the
//! warnings cost the user.

pub mod attribute;
pub mod budget_rates;
pub mod direction;
pub mod filter;
pub mod history;
pub mod order;
pub mod ports;
pub mod rates;
pub mod remote;
pub mod summary;
pub mod warnings;
