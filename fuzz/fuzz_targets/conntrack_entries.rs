//! ctnetlink dumps: `netlink::conntrack::parse_entry` on each data message
//! of one datagram, walked by `netlink::message::walk_answer` as `dump`
//! walks them.
//!
//! Input: one datagram.
//!
//! Asserts: no panic; a `Malformed` points into the message it is about
//! (or, for a bad header, at a byte of the datagram); the entries read,
//! encoded again as the kernel's ctnetlink_dump_info writes them (nests
//! flagged NLA_F_NESTED) and followed by `NLMSG_DONE`, read back the same,
//! and the walk ends done.
#![no_main]

use std::net::IpAddr;

use cnetstat::netlink::conntrack::{parse_entry, Counters, Entry, TcpInfo, Tuple};
use cnetstat::netlink::conntrack::{
    CTA_COUNTERS_BYTES, CTA_COUNTERS_ORIG, CTA_COUNTERS_PACKETS, CTA_COUNTERS_REPLY, CTA_HELP,
    CTA_HELP_NAME, CTA_ID, CTA_IP_V4_DST, CTA_IP_V4_SRC, CTA_IP_V6_DST, CTA_IP_V6_SRC, CTA_MARK,
    CTA_PROTOINFO, CTA_PROTOINFO_TCP, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL,
    CTA_PROTOINFO_TCP_FLAGS_REPLY, CTA_PROTOINFO_TCP_STATE, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL,
    CTA_PROTOINFO_TCP_WSCALE_REPLY, CTA_PROTO_DST_PORT, CTA_PROTO_ICMPV6_CODE, CTA_PROTO_ICMPV6_ID,
    CTA_PROTO_ICMPV6_TYPE, CTA_PROTO_ICMP_CODE, CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE,
    CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_STATUS, CTA_TIMEOUT, CTA_TIMESTAMP, CTA_TIMESTAMP_START,
    CTA_TIMESTAMP_STOP, CTA_TUPLE_IP, CTA_TUPLE_ORIG, CTA_TUPLE_PROTO, CTA_TUPLE_REPLY,
    CTA_TUPLE_ZONE, CTA_USE, CTA_ZONE, IPCTNL_MSG_CT_NEW, NFNL_SUBSYS_CTNETLINK,
};
use cnetstat_fuzz::netlink::{done, message, walk, Attrs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut entries = Vec::new();
    // A kernel error ends the walk too; the entries before it stand.
    let _ = walk(data, |m| {
        entries.push(parse_entry(m)?);
        Ok(())
    });

    let Some(messages) = entries.iter().map(encode).collect::<Option<Vec<_>>>() else {
        return; // A string gained its NUL past an attribute's 64 KiB.
    };
    let mut datagram = messages.concat();
    datagram.extend_from_slice(&done());
    let mut again = Vec::new();
    let progress = walk(&datagram, |m| {
        again.push(parse_entry(m)?);
        Ok(())
    })
    .unwrap();
    assert!(progress.done);
    assert_eq!(again, entries);
});

fn encode(entry: &Entry) -> Option<Vec<u8>> {
    let family = match entry.original.src {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    };
    let mut attrs = Attrs::default();
    attrs
        .add_nested(CTA_TUPLE_ORIG, tuple(&entry.original))
        .add_nested(CTA_TUPLE_REPLY, tuple(&entry.reply))
        .add(CTA_STATUS, &entry.status.0.to_be_bytes())
        .add(CTA_MARK, &entry.mark.to_be_bytes())
        .add(CTA_ID, &entry.id.to_be_bytes());
    // The kernel leaves zone 0 out.
    if entry.zone != 0 {
        attrs.add(CTA_ZONE, &entry.zone.to_be_bytes());
    }
    if let Some(timeout) = entry.timeout {
        attrs.add(CTA_TIMEOUT, &timeout.to_be_bytes());
    }
    if let Some(tcp) = &entry.tcp {
        let mut protoinfo = Attrs::default();
        protoinfo.add_nested(CTA_PROTOINFO_TCP, tcp_info(tcp));
        attrs.add_nested(CTA_PROTOINFO, protoinfo);
    }
    if let Some(helper) = &entry.helper {
        let mut help = Attrs::default();
        help.add_string(CTA_HELP_NAME, helper);
        attrs.add_nested(CTA_HELP, help);
    }
    for (kind, counters) in [
        (CTA_COUNTERS_ORIG, entry.counters_original),
        (CTA_COUNTERS_REPLY, entry.counters_reply),
    ] {
        if let Some(Counters { packets, bytes }) = counters {
            let mut nest = Attrs::default();
            nest.add(CTA_COUNTERS_PACKETS, &packets.to_be_bytes())
                .add(CTA_COUNTERS_BYTES, &bytes.to_be_bytes());
            attrs.add_nested(kind, nest);
        }
    }
    if entry.started_ns.is_some() || entry.stopped_ns.is_some() {
        let mut timestamp = Attrs::default();
        if let Some(start) = entry.started_ns {
            timestamp.add(CTA_TIMESTAMP_START, &start.to_be_bytes());
        }
        if let Some(stop) = entry.stopped_ns {
            timestamp.add(CTA_TIMESTAMP_STOP, &stop.to_be_bytes());
        }
        attrs.add_nested(CTA_TIMESTAMP, timestamp);
    }
    if let Some(use_count) = entry.use_count {
        attrs.add(CTA_USE, &use_count.to_be_bytes());
    }
    // nfgenmsg: family, version 0, resource id 0.
    message(
        NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW,
        &[family as u8, 0, 0, 0],
        attrs,
    )
}

fn tuple(tuple: &Tuple) -> Attrs {
    let mut ip = Attrs::default();
    for (address, v4, v6) in [
        (tuple.src, CTA_IP_V4_SRC, CTA_IP_V6_SRC),
        (tuple.dst, CTA_IP_V4_DST, CTA_IP_V6_DST),
    ] {
        match address {
            IpAddr::V4(v4_address) => ip.add(v4, &v4_address.octets()),
            IpAddr::V6(v6_address) => ip.add(v6, &v6_address.octets()),
        };
    }
    let mut proto = Attrs::default();
    proto.add(CTA_PROTO_NUM, &[tuple.protocol]);
    if let Some(port) = tuple.src_port {
        proto.add(CTA_PROTO_SRC_PORT, &port.to_be_bytes());
    }
    if let Some(port) = tuple.dst_port {
        proto.add(CTA_PROTO_DST_PORT, &port.to_be_bytes());
    }
    if let Some(icmp) = tuple.icmp {
        let (id, kind, code) = match tuple.src {
            IpAddr::V4(_) => (CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE),
            IpAddr::V6(_) => (
                CTA_PROTO_ICMPV6_ID,
                CTA_PROTO_ICMPV6_TYPE,
                CTA_PROTO_ICMPV6_CODE,
            ),
        };
        if let Some(value) = icmp.id {
            proto.add(id, &value.to_be_bytes());
        }
        if let Some(value) = icmp.kind {
            proto.add(kind, &[value]);
        }
        if let Some(value) = icmp.code {
            proto.add(code, &[value]);
        }
    }
    let mut attrs = Attrs::default();
    attrs
        .add_nested(CTA_TUPLE_IP, ip)
        .add_nested(CTA_TUPLE_PROTO, proto);
    if let Some(zone) = tuple.zone {
        attrs.add(CTA_TUPLE_ZONE, &zone.to_be_bytes());
    }
    attrs
}

fn tcp_info(tcp: &TcpInfo) -> Attrs {
    let mut attrs = Attrs::default();
    attrs.add(CTA_PROTOINFO_TCP_STATE, &[tcp.state.code()]);
    if let Some(wscale) = tcp.wscale_original {
        attrs.add(CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, &[wscale]);
    }
    if let Some(wscale) = tcp.wscale_reply {
        attrs.add(CTA_PROTOINFO_TCP_WSCALE_REPLY, &[wscale]);
    }
    // struct nf_ct_tcp_flags { flags, mask }.
    if let Some(flags) = tcp.flags_original {
        attrs.add(CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, &[flags, 0]);
    }
    if let Some(flags) = tcp.flags_reply {
        attrs.add(CTA_PROTOINFO_TCP_FLAGS_REPLY, &[flags, 0]);
    }
    attrs
}

