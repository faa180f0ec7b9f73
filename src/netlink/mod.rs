//! Netlink readers of one network namespace: the calling thread's. A
//! caller reading another namespace runs them inside
//! [`crate::collect::netns_enter::in_netns`], because a netlink socket belongs to
//! the namespace it is created in.
//!
//! `wire`, `attr` and `message` are pure and work on received bytes, so
//! each reader's parser is tested on recorded datagrams; `socket` is the
//! only I/O.

pub mod addr;
pub mod attr;
pub mod conntrack;
pub mod message;
pub mod nftables;
pub mod sock_diag;
pub mod socket;
pub mod wire;

#[cfg(test)]
pub(crate) mod lab;
