//! Netlink: the kernel's binary interfaces for what /proc prints as text.

pub mod sock_diag;
