//! The conntrack table of the calling thread's namespace through
//! ctnetlink, what `conntrack -L` reads (ports.md §4.2).
//!
//! Request: `nlmsghdr` of type `NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET`
//! with NLM_F_DUMP, then `struct nfgenmsg` (family, version 0, res_id 0),
//! then optional filter attributes. Each entry comes back as one
//! `IPCTNL_MSG_CT_NEW` message: `nfgenmsg` (the entry's family) and the
//! attributes of `enum ctattr_type` (linux/netfilter/nfnetlink_conntrack.h),
//! numbers in network byte order:
//!
//! ```text
//! CTA_TUPLE_ORIG / CTA_TUPLE_REPLY { CTA_TUPLE_IP { V4_SRC, V4_DST | V6_SRC, V6_DST },
//!                                    CTA_TUPLE_PROTO { NUM u8, SRC_PORT, DST_PORT | ICMP_* },
//!                                    CTA_TUPLE_ZONE be16 (only a zone set for one direction) }
//! CTA_STATUS be32   CTA_TIMEOUT be32 s   CTA_MARK be32   CTA_ID be32   CTA_USE be32
//! CTA_ZONE be16 (only for a zone other than 0)   CTA_PROTOINFO { CTA_PROTOINFO_TCP { STATE u8, ... } }
//! CTA_COUNTERS_ORIG / _REPLY (nf_conntrack_acct=1)   CTA_TIMESTAMP (nf_conntrack_timestamp=1)
//! CTA_HELP { CTA_HELP_NAME }
//! ```
//!
//! The kernel walks the whole node-wide hash for every dump, entries of
//! other namespaces included, so a caller dumps only the namespaces that
//! hold NAT state.

use std::net::IpAddr;

use crate::model::TcpConntrackState;
use super::attr::Attr;
use super::message::{Message, Request, NLM_F_DUMP};
use super::socket::{exchange, NetlinkError};
use super::wire::Malformed;

pub const NETLINK_NETFILTER: libc::c_int = 12;
pub const NFNL_SUBSYS_CTNETLINK: u16 = 1;
pub const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;

/// `struct nfgenmsg`: family, version (NFNETLINK_V0), res_id (be16).
pub const NFGENMSG_LEN: usize = 4;
const NFGEN_FAMILY: usize = 0;

pub const CTA_TUPLE_ORIG: u16 = 1;
pub const CTA_TUPLE_REPLY: u16 = 2;
pub const CTA_STATUS: u16 = 3;
pub const CTA_PROTOINFO: u16 = 4;
pub const CTA_HELP: u16 = 5;
pub const CTA_TIMEOUT: u16 = 7;
pub const CTA_MARK: u16 = 8;
pub const CTA_COUNTERS_ORIG: u16 = 9;
pub const CTA_COUNTERS_REPLY: u16 = 10;
pub const CTA_USE: u16 = 11;
pub const CTA_ID: u16 = 12;
pub const CTA_ZONE: u16 = 18;
pub const CTA_TIMESTAMP: u16 = 20;
const CTA_STATUS_MASK: u16 = 26;

pub const CTA_TUPLE_IP: u16 = 1;
pub const CTA_TUPLE_PROTO: u16 = 2;
pub const CTA_TUPLE_ZONE: u16 = 3;

pub const CTA_IP_V4_SRC: u16 = 1;
pub const CTA_IP_V4_DST: u16 = 2;
pub const CTA_IP_V6_SRC: u16 = 3;
pub const CTA_IP_V6_DST: u16 = 4;

pub const CTA_PROTO_NUM: u16 = 1;
pub const CTA_PROTO_SRC_PORT: u16 = 2;
pub const CTA_PROTO_DST_PORT: u16 = 3;
pub const CTA_PROTO_ICMP_ID: u16 = 4;
pub const CTA_PROTO_ICMP_TYPE: u16 = 5;
pub const CTA_PROTO_ICMP_CODE: u16 = 6;
pub const CTA_PROTO_ICMPV6_ID: u16 = 7;
pub const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
pub const CTA_PROTO_ICMPV6_CODE: u16 = 9;

pub const CTA_PROTOINFO_TCP: u16 = 1;
pub const CTA_PROTOINFO_TCP_STATE: u16 = 1;
pub const CTA_PROTOINFO_TCP_WSCALE_ORIGINAL: u16 = 2;
pub const CTA_PROTOINFO_TCP_WSCALE_REPLY: u16 = 3;
/// `struct nf_ct_tcp_flags { u8 flags; u8 mask; }`
pub const CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: u16 = 4;
pub const CTA_PROTOINFO_TCP_FLAGS_REPLY: u16 = 5;

pub const CTA_COUNTERS_PACKETS: u16 = 1;
pub const CTA_COUNTERS_BYTES: u16 = 2;
pub const CTA_TIMESTAMP_START: u16 = 1;
pub const CTA_TIMESTAMP_STOP: u16 = 2;
pub const CTA_HELP_NAME: u16 = 1;

/// `enum ip_conntrack_status` (linux/netfilter/nf_conntrack_common.h): the
/// bit cnetstat reads, and those the tests compare with conntrack's listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Status(pub u32);

impl Status {
    #[cfg(test)]
    pub const SEEN_REPLY: u32 = 1 << 1;
    #[cfg(test)]
    pub const ASSURED: u32 = 1 << 2;
    /// The entry was source-NATed. Not SRC_NAT_DONE, which every entry
    /// gets once NAT is loaded (ports.md §4.2, the status-bit pitfall).
    pub const SRC_NAT: u32 = 1 << 4;
    pub const DST_NAT: u32 = 1 << 5;
    #[cfg(test)]
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    #[cfg(test)]
    pub const DST_NAT_DONE: u32 = 1 << 8;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit == bit
    }

    #[cfg(test)]
    pub fn is_src_nat(self) -> bool {
        self.has(Status::SRC_NAT)
    }

    #[cfg(test)]
    pub fn is_dst_nat(self) -> bool {
        self.has(Status::DST_NAT)
    }
}

/// CTA_PROTOINFO_TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    pub state: TcpConntrackState,
    pub wscale_original: Option<u8>,
    pub wscale_reply: Option<u8>,
    /// `IP_CT_TCP_FLAG_*` of each direction.
    pub flags_original: Option<u8>,
    pub flags_reply: Option<u8>,
}

/// The ICMP part of a tuple, in place of ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IcmpKey {
    pub id: Option<u16>,
    pub kind: Option<u8>,
    pub code: Option<u8>,
}

/// One direction of a connection, as the kernel hashes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPPROTO_* (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    pub protocol: u8,
    /// None for protocols without ports.
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub icmp: Option<IcmpKey>,
    /// CTA_TUPLE_ZONE: a zone set for this direction only
    /// (`ct original zone set`); a zone of both directions is
    /// [`Entry::zone`].
    pub zone: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

/// One conntrack entry with every field the dump carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// As the first packet had it: the pod's address and port before SNAT.
    pub original: Tuple,
    /// As the answer has it: for SNAT, `dst`/`dst_port` are the NAT
    /// address and the port it took; `src`/`src_port` the destination.
    pub reply: Tuple,
    pub status: Status,
    /// CTA_ZONE, which the kernel leaves out for zone 0.
    pub zone: u16,
    /// Seconds left; None for an offloaded entry, which has no timeout.
    pub timeout: Option<u32>,
    pub tcp: Option<TcpInfo>,
    pub id: u32,
    pub mark: u32,
    pub use_count: Option<u32>,
    pub counters_original: Option<Counters>,
    pub counters_reply: Option<Counters>,
    /// CLOCK_REALTIME ns of the first packet, with nf_conntrack_timestamp=1.
    pub started_ns: Option<u64>,
    pub stopped_ns: Option<u64>,
    pub helper: Option<String>,
}

/// Which entries to dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every entry: the live tests and the recorded fixtures.
    #[cfg(test)]
    All,
    /// Entries with IPS_SRC_NAT: asked of the kernel (Linux ≥ 5.15 filters
    /// by status) and checked again here, since older kernels ignore the
    /// attributes and send everything.
    SourceNat,
    /// Entries with IPS_DST_NAT, the same way.
    DestinationNat,
}

impl Selection {
    /// The status bit asked for; None for every entry.
    fn status_bit(self) -> Option<u32> {
        match self {
            #[cfg(test)]
            Selection::All => None,
            Selection::SourceNat => Some(Status::SRC_NAT),
            Selection::DestinationNat => Some(Status::DST_NAT),
        }
    }
}

/// The dump request, of both address families.
pub fn dump_request(selection: Selection) -> Request {
    let mut nfgenmsg = [0u8; NFGENMSG_LEN];
    nfgenmsg[NFGEN_FAMILY] = libc::AF_UNSPEC as u8;
    let request = Request::new(
        NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET,
        NLM_F_DUMP,
        &nfgenmsg,
    );
    match selection.status_bit() {
        None => request,
        Some(bit) => request
            .attr(CTA_STATUS, &bit.to_be_bytes())
            .attr(CTA_STATUS_MASK, &bit.to_be_bytes()),
    }
}

/// Hands every selected entry of the calling thread's namespace to `each`,
/// in the kernel's hash order, and says whether the kernel applied a filter
/// (NLM_F_DUMP_FILTERED). Linux 6.18 sets it for the status filter; the
/// entries are checked here whatever it says. Unset when nothing matched.
pub fn dump(selection: Selection, mut each: impl FnMut(Entry)) -> Result<bool, NetlinkError> {
    let summary = exchange(
        "ctnetlink dump",
        NETLINK_NETFILTER,
        &dump_request(selection),
        |message| {
            let entry = parse_entry(message)?;
            if selection.status_bit().map_or(true, |bit| entry.status.has(bit)) {
                each(entry);
            }
            Ok(())
        },
    )?;
    Ok(summary.dump_filtered)
}

/// One `IPCTNL_MSG_CT_NEW` message of a dump.
pub fn parse_entry(message: &Message<'_>) -> Result<Entry, Malformed> {
    if message.kind != NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW {
        return Err(message.malformed("not a ctnetlink entry message"));
    }
    let (mut original, mut reply) = (None, None);
    let mut entry = Entry {
        original: UNSET_TUPLE,
        reply: UNSET_TUPLE,
        status: Status(0),
        zone: 0,
        timeout: None,
        tcp: None,
        id: 0,
        mark: 0,
        use_count: None,
        counters_original: None,
        counters_reply: None,
        started_ns: None,
        stopped_ns: None,
        helper: None,
    };
    for attr in message.attrs_after(NFGENMSG_LEN)? {
        let attr = attr?;
        match attr.kind() {
            CTA_TUPLE_ORIG => original = Some(parse_tuple(&attr)?),
            CTA_TUPLE_REPLY => reply = Some(parse_tuple(&attr)?),
            CTA_STATUS => entry.status = Status(attr.be32()?),
            CTA_PROTOINFO => entry.tcp = parse_protoinfo(&attr)?,
            CTA_HELP => entry.helper = parse_helper(&attr)?,
            CTA_TIMEOUT => entry.timeout = Some(attr.be32()?),
            CTA_MARK => entry.mark = attr.be32()?,
            CTA_COUNTERS_ORIG => entry.counters_original = Some(parse_counters(&attr)?),
            CTA_COUNTERS_REPLY => entry.counters_reply = Some(parse_counters(&attr)?),
            CTA_USE => entry.use_count = Some(attr.be32()?),
            CTA_ID => entry.id = attr.be32()?,
            CTA_ZONE => entry.zone = attr.be16()?,
            CTA_TIMESTAMP => (entry.started_ns, entry.stopped_ns) = parse_timestamp(&attr)?,
            _ => {}
        }
    }
    entry.original = original.ok_or(message.malformed("entry without CTA_TUPLE_ORIG"))?;
    entry.reply = reply.ok_or(message.malformed("entry without CTA_TUPLE_REPLY"))?;
    Ok(entry)
}

/// Placeholder until the tuple attributes are read; never returned.
const UNSET_TUPLE: Tuple = Tuple {
    src: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    dst: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    protocol: 0,
    src_port: None,
    dst_port: None,
    icmp: None,
    zone: None,
};

fn parse_tuple(tuple: &Attr<'_>) -> Result<Tuple, Malformed> {
    let (mut src, mut dst, mut protocol) = (None, None, None);
    let mut parsed = UNSET_TUPLE;
    for attr in tuple.nested() {
        let attr = attr?;
        match attr.kind() {
            CTA_TUPLE_IP => {
                for ip in attr.nested() {
                    let ip = ip?;
                    match ip.kind() {
                        CTA_IP_V4_SRC => src = Some(IpAddr::V4(ip.ipv4()?)),
                        CTA_IP_V4_DST => dst = Some(IpAddr::V4(ip.ipv4()?)),
                        CTA_IP_V6_SRC => src = Some(IpAddr::V6(ip.ipv6()?)),
                        CTA_IP_V6_DST => dst = Some(IpAddr::V6(ip.ipv6()?)),
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                let mut icmp = IcmpKey {
                    id: None,
                    kind: None,
                    code: None,
                };
                for proto in attr.nested() {
                    let proto = proto?;
                    match proto.kind() {
                        CTA_PROTO_NUM => protocol = Some(proto.u8()?),
                        CTA_PROTO_SRC_PORT => parsed.src_port = Some(proto.be16()?),
                        CTA_PROTO_DST_PORT => parsed.dst_port = Some(proto.be16()?),
                        CTA_PROTO_ICMP_ID | CTA_PROTO_ICMPV6_ID => icmp.id = Some(proto.be16()?),
                        CTA_PROTO_ICMP_TYPE | CTA_PROTO_ICMPV6_TYPE => {
                            icmp.kind = Some(proto.u8()?)
                        }
                        CTA_PROTO_ICMP_CODE | CTA_PROTO_ICMPV6_CODE => {
                            icmp.code = Some(proto.u8()?)
                        }
                        _ => {}
                    }
                }
                if icmp.id.is_some() || icmp.kind.is_some() || icmp.code.is_some() {
                    parsed.icmp = Some(icmp);
                }
            }
            CTA_TUPLE_ZONE => parsed.zone = Some(attr.be16()?),
            _ => {}
        }
    }
    parsed.src = src.ok_or(tuple.malformed("tuple without a source address"))?;
    parsed.dst = dst.ok_or(tuple.malformed("tuple without a destination address"))?;
    parsed.protocol = protocol.ok_or(tuple.malformed("tuple without CTA_PROTO_NUM"))?;
    Ok(parsed)
}

fn parse_protoinfo(protoinfo: &Attr<'_>) -> Result<Option<TcpInfo>, Malformed> {
    for attr in protoinfo.nested() {
        let attr = attr?;
        if attr.kind() != CTA_PROTOINFO_TCP {
            continue;
        }
        let mut tcp = TcpInfo {
            state: TcpConntrackState::None,
            wscale_original: None,
            wscale_reply: None,
            flags_original: None,
            flags_reply: None,
        };
        for field in attr.nested() {
            let field = field?;
            let flags = || {
                field
                    .payload()
                    .first()
                    .copied()
                    .ok_or(field.malformed("empty TCP flags attribute"))
            };
            match field.kind() {
                CTA_PROTOINFO_TCP_STATE => tcp.state = TcpConntrackState::from_code(field.u8()?),
                CTA_PROTOINFO_TCP_WSCALE_ORIGINAL => tcp.wscale_original = Some(field.u8()?),
                CTA_PROTOINFO_TCP_WSCALE_REPLY => tcp.wscale_reply = Some(field.u8()?),
                CTA_PROTOINFO_TCP_FLAGS_ORIGINAL => tcp.flags_original = Some(flags()?),
                CTA_PROTOINFO_TCP_FLAGS_REPLY => tcp.flags_reply = Some(flags()?),
                _ => {}
            }
        }
        return Ok(Some(tcp));
    }
    Ok(None)
}

fn parse_counters(counters: &Attr<'_>) -> Result<Counters, Malformed> {
    let mut parsed = Counters {
        packets: 0,
        bytes: 0,
    };
    for attr in counters.nested() {
        let attr = attr?;
        match attr.kind() {
            CTA_COUNTERS_PACKETS => parsed.packets = attr.be64()?,
            CTA_COUNTERS_BYTES => parsed.bytes = attr.be64()?,
            _ => {}
        }
    }
    Ok(parsed)
}

fn parse_timestamp(timestamp: &Attr<'_>) -> Result<(Option<u64>, Option<u64>), Malformed> {
    let (mut start, mut stop) = (None, None);
    for attr in timestamp.nested() {
        let attr = attr?;
        match attr.kind() {
            CTA_TIMESTAMP_START => start = Some(attr.be64()?),
            CTA_TIMESTAMP_STOP => stop = Some(attr.be64()?),
            _ => {}
        }
    }
    Ok((start, stop))
}

fn parse_helper(help: &Attr<'_>) -> Result<Option<String>, Malformed> {
    for attr in help.nested() {
        let attr = attr?;
        if attr.kind() == CTA_HELP_NAME {
            return attr.string().map(Some);
        }
    }
    Ok(None)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::netlink::message::tests::{done, message};
    use crate::netlink::message::{walk_answer, DumpError, Progress, NLM_F_MULTI};
    use std::collections::BTreeMap;

    /// What a dump gave, collected.
    #[derive(Debug)]
    struct Dump {
        entries: Vec<Entry>,
        kernel_filtered: bool,
    }

    fn collect(selection: Selection) -> Result<Dump, NetlinkError> {
        let mut entries = Vec::new();
        let kernel_filtered = dump(selection, |entry| entries.push(entry))?;
        Ok(Dump {
            entries,
            kernel_filtered,
        })
    }

    /// Appends the entries of one received datagram to `out`.
    fn parse_datagram(datagram: &[u8], out: &mut Vec<Entry>) -> Result<Progress, DumpError> {
        walk_answer(datagram, |message| {
            out.push(parse_entry(message)?);
            Ok(())
        })
    }

    const DUMP: [&[u8]; 3] = [
        include_bytes!("../../testdata/conntrack/dump-1.bin"),
        include_bytes!("../../testdata/conntrack/dump-2.bin"),
        include_bytes!("../../testdata/conntrack/dump-3.bin"),
    ];
    const SNAT: [&[u8]; 2] = [
        include_bytes!("../../testdata/conntrack/snat-1.bin"),
        include_bytes!("../../testdata/conntrack/snat-2.bin"),
    ];
    const README: &str = include_str!("../../testdata/conntrack/README.md");

    /// One line of `conntrack -L -o extended,id`, read independently of the
    /// parser under test.
    #[derive(Debug, Default)]
    pub(crate) struct Listed {
        pub(crate) protocol: u8,
        pub(crate) timeout: u32,
        pub(crate) state: Option<String>,
        /// src, dst, sport, dport, zone-orig/zone-reply, packets, bytes.
        pub(crate) original: BTreeMap<String, String>,
        pub(crate) reply: BTreeMap<String, String>,
        pub(crate) assured: bool,
        pub(crate) unreplied: bool,
        pub(crate) mark: u32,
        pub(crate) zone: u16,
        pub(crate) use_count: u32,
        pub(crate) id: u32,
    }

    pub(crate) fn listed(line: &str) -> Listed {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let mut l = Listed {
            protocol: fields[3].parse().unwrap(),
            timeout: fields[4].parse().unwrap(),
            ..Listed::default()
        };
        let mut sources = 0;
        for field in &fields[5..] {
            match field.split_once('=') {
                None if *field == "[ASSURED]" => l.assured = true,
                None if *field == "[UNREPLIED]" => l.unreplied = true,
                None => l.state = Some(field.to_string()),
                Some(("mark", v)) => l.mark = v.parse().unwrap(),
                Some(("zone", v)) => l.zone = v.parse().unwrap(),
                Some(("use", v)) => l.use_count = v.parse().unwrap(),
                Some(("id", v)) => l.id = v.parse().unwrap(),
                Some((key, v)) => {
                    sources += usize::from(key == "src");
                    let side = if sources > 1 {
                        &mut l.reply
                    } else {
                        &mut l.original
                    };
                    side.insert(key.to_string(), v.to_string());
                }
            }
        }
        l
    }

    /// The ids listed under a `$ command` of a README or tool run.
    fn listed_ids(text: &str, command: &str) -> Vec<u32> {
        section(text, command)
            .iter()
            .map(|line| {
                let id = line.split_whitespace().find_map(|f| f.strip_prefix("id="));
                id.unwrap().parse().unwrap()
            })
            .collect()
    }

    fn section<'a>(text: &'a str, command: &str) -> Vec<&'a str> {
        text.split(&format!("$ {command}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("no {command} in the README"))
            .lines()
            .take_while(|line| !line.starts_with("```") && !line.starts_with('$'))
            .collect()
    }

    fn tuple_fields(tuple: &Tuple, counters: Option<Counters>) -> BTreeMap<String, String> {
        let mut fields = BTreeMap::new();
        let mut put = |key: &str, value: String| {
            fields.insert(key.to_string(), value);
        };
        put("src", tuple.src.to_string());
        put("dst", tuple.dst.to_string());
        if let Some(port) = tuple.src_port {
            put("sport", port.to_string());
        }
        if let Some(port) = tuple.dst_port {
            put("dport", port.to_string());
        }
        if let Some(counters) = counters {
            put("packets", counters.packets.to_string());
            put("bytes", counters.bytes.to_string());
        }
        fields
    }

    /// Checks a dumped entry against conntrack's line for it; conntrack ran
    /// up to `late` seconds after the dump.
    pub(crate) fn assert_matches_listing(entry: &Entry, line: &Listed, late: u32) {
        let context = format!("{entry:#?}\nagainst {line:#?}");
        assert_eq!(entry.id, line.id);
        assert_eq!(entry.original.protocol, line.protocol, "{context}");
        assert_eq!(entry.reply.protocol, line.protocol, "{context}");
        let mut original = tuple_fields(&entry.original, entry.counters_original);
        if let Some(zone) = entry.original.zone {
            original.insert("zone-orig".into(), zone.to_string());
        }
        let mut reply = tuple_fields(&entry.reply, entry.counters_reply);
        if let Some(zone) = entry.reply.zone {
            reply.insert("zone-reply".into(), zone.to_string());
        }
        assert_eq!(original, line.original, "{context}");
        assert_eq!(reply, line.reply, "{context}");
        let timeout = entry.timeout.unwrap();
        assert!(
            timeout >= line.timeout && timeout <= line.timeout + late,
            "{context}"
        );
        assert_eq!(
            entry.tcp.map(|t| t.state.name().to_string()),
            line.state,
            "{context}"
        );
        assert_eq!(entry.status.has(Status::ASSURED), line.assured, "{context}");
        assert_eq!(
            !entry.status.has(Status::SEEN_REPLY),
            line.unreplied,
            "{context}"
        );
        assert_eq!(entry.mark, line.mark, "{context}");
        assert_eq!(entry.zone, line.zone, "{context}");
        assert_eq!(entry.use_count, Some(line.use_count), "{context}");
    }

    fn parse_all(datagrams: &[&[u8]]) -> (Vec<Entry>, Vec<Progress>) {
        let mut entries = Vec::new();
        let progress = datagrams
            .iter()
            .map(|d| parse_datagram(d, &mut entries).unwrap())
            .collect();
        (entries, progress)
    }

    #[test]
    fn recorded_dump_matches_conntrack_listing() {
        let (entries, progress) = parse_all(&DUMP);
        assert_eq!(
            progress.iter().map(|p| p.done).collect::<Vec<_>>(),
            [false, false, true]
        );
        assert!(progress.iter().all(|p| !p.dump_filtered));
        let mut lines: Vec<Listed> = section(README, "conntrack -L -f ipv4 -o extended,id")
            .into_iter()
            .chain(section(README, "conntrack -L -f ipv6 -o extended,id"))
            .map(listed)
            .collect();
        // conntrack -C said 16.
        assert_eq!(entries.len(), 16);
        assert_eq!(lines.len(), 16);
        for entry in &entries {
            let at = lines.iter().position(|l| l.id == entry.id).unwrap();
            assert_matches_listing(entry, &lines.remove(at), 1);
        }

        let src_nat: Vec<u32> = listed_ids(README, "conntrack -L -f ipv4 --src-nat -o id")
            .into_iter()
            .chain(listed_ids(README, "conntrack -L -f ipv6 --src-nat -o id"))
            .collect();
        let dst_nat = listed_ids(README, "conntrack -L -f ipv4 --dst-nat -o id");
        assert_eq!(src_nat.len(), 11);
        for entry in &entries {
            assert_eq!(
                entry.status.is_src_nat(),
                src_nat.contains(&entry.id),
                "{entry:?}"
            );
            assert_eq!(
                entry.status.is_dst_nat(),
                dst_nat.contains(&entry.id),
                "{entry:?}"
            );
            // The pitfall: NAT is loaded, so every entry has both *_DONE bits.
            assert!(entry
                .status
                .has(Status::SRC_NAT_DONE | Status::DST_NAT_DONE));
        }
    }

    /// The same entries, spelled out from the README's listing by hand.
    #[test]
    fn recorded_dump_spot_checks() {
        let (entries, _) = parse_all(&DUMP);
        let by_id = |id| entries.iter().find(|e| e.id == id).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();

        // pod2's UDP to 198.18.0.3:5354 in zone 7 (CTA_ZONE), SNAT port 50015.
        let zoned = by_id(2393819328);
        assert_eq!(zoned.zone, 7);
        assert_eq!((zoned.original.zone, zoned.reply.zone), (None, None));
        assert_eq!(zoned.original.src, ip("198.18.1.3"));
        assert_eq!(zoned.original.src_port, Some(41319));
        assert_eq!(
            (zoned.reply.dst, zoned.reply.dst_port),
            (ip("198.18.0.1"), Some(50015))
        );
        assert_eq!(zoned.original.protocol, 17);
        assert_eq!(zoned.tcp, None);
        assert_eq!(zoned.timeout, Some(29));

        // pod1's UDP to :5355, zone 9 for the original direction only.
        let directional = by_id(1070647589);
        assert_eq!(directional.zone, 0);
        assert_eq!(directional.original.zone, Some(9));
        assert_eq!(directional.reply.zone, None);

        // The closed connection: TIME_WAIT for 120 s, still ASSURED and SNATed.
        let closed = by_id(4125111602);
        assert_eq!(closed.tcp.unwrap().state, TcpConntrackState::TimeWait);
        assert!(matches!(closed.timeout, Some(119 | 120)));
        assert!(closed.status.is_src_nat() && closed.status.has(Status::ASSURED));
        assert_eq!(closed.reply.dst_port, Some(40018));
        assert_eq!(
            closed.counters_original,
            Some(Counters {
                packets: 6,
                bytes: 321
            })
        );

        // The Service-like flow: DNAT only; the reply comes from the backend.
        let service = by_id(988675968);
        assert!(service.status.is_dst_nat() && !service.status.is_src_nat());
        assert_eq!(
            (service.original.dst, service.original.dst_port),
            (ip("198.18.9.1"), Some(80))
        );
        assert_eq!(
            (service.reply.src, service.reply.src_port),
            (ip("198.18.0.7"), Some(8081))
        );

        // IGMP from the bridge: protocol 2, no ports, never answered.
        let igmp = by_id(2505244707);
        assert_eq!(igmp.original.protocol, 2);
        assert_eq!(
            (igmp.original.src_port, igmp.original.dst_port),
            (None, None)
        );
        assert!(!igmp.status.has(Status::SEEN_REPLY));
        assert_eq!(igmp.original.dst, ip("224.0.0.22"));

        // IPv6 masquerade to 2001:2::1 port 43001.
        let v6 = by_id(1607949542);
        assert_eq!(v6.original.src, ip("2001:2:0:1::2"));
        assert_eq!(
            (v6.reply.dst, v6.reply.dst_port),
            (ip("2001:2::1"), Some(43001))
        );
        assert_eq!(v6.tcp.unwrap().state, TcpConntrackState::Established);
        assert_eq!(v6.timeout, Some(431999));
    }

    #[test]
    fn recorded_status_filtered_dump_holds_the_snat_entries_flagged_filtered() {
        let (entries, progress) = parse_all(&SNAT);
        assert!(progress[0].dump_filtered);
        assert!(progress[1].done);
        let mut ids: Vec<u32> = entries.iter().map(|e| e.id).collect();
        let mut expected: Vec<u32> = listed_ids(README, "conntrack -L -f ipv4 --src-nat -o id")
            .into_iter()
            .chain(listed_ids(README, "conntrack -L -f ipv6 --src-nat -o id"))
            .collect();
        ids.sort();
        expected.sort();
        assert_eq!(ids, expected);
    }

    #[test]
    fn request_layouts() {
        let all = dump_request(Selection::All);
        let mut expected = 20u32.to_ne_bytes().to_vec();
        expected.extend_from_slice(&0x0101u16.to_ne_bytes());
        expected.extend_from_slice(&0x0301u16.to_ne_bytes());
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(all.bytes(), &expected[..]);

        let snat = dump_request(Selection::SourceNat);
        let bytes = snat.bytes();
        assert_eq!(bytes.len(), 36);
        // The same type, flags and nfgenmsg (AF_UNSPEC) as the dump of all.
        assert_eq!(&bytes[4..20], &all.bytes()[4..20]);
        // CTA_STATUS then CTA_STATUS_MASK, each be32 0x10.
        assert_eq!(&bytes[20..28], &[8, 0, 3, 0, 0, 0, 0, 0x10]);
        assert_eq!(&bytes[28..36], &[8, 0, 26, 0, 0, 0, 0, 0x10]);

        // IPS_DST_NAT is bit 5: 0x20.
        let dnat = dump_request(Selection::DestinationNat);
        let bytes = dnat.bytes();
        assert_eq!(&bytes[4..20], &all.bytes()[4..20]);
        assert_eq!(&bytes[20..28], &[8, 0, 3, 0, 0, 0, 0, 0x20]);
        assert_eq!(&bytes[28..36], &[8, 0, 26, 0, 0, 0, 0, 0x20]);
    }

    fn first_message(datagram: &[u8]) -> Message<'_> {
        crate::netlink::message::messages(datagram)
            .next()
            .unwrap()
            .unwrap()
    }

    #[test]
    fn an_entry_without_its_tuples_is_malformed() {
        let datagram = message(0x0100, NLM_F_MULTI, &[2, 0, 0, 0]);
        let err = parse_entry(&first_message(&datagram)).unwrap_err();
        assert_eq!(err.problem, "entry without CTA_TUPLE_ORIG");
    }

    #[test]
    fn cut_attributes_are_malformed_at_their_offset() {
        // Cut the first entry's message to end inside an attribute.
        let first = first_message(DUMP[0]);
        let cut_at = 16 + 40;
        let mut bytes = DUMP[0][..cut_at].to_vec();
        bytes[0..4].copy_from_slice(&(cut_at as u32).to_ne_bytes());
        let mut entries = Vec::new();
        let err = parse_datagram(&bytes, &mut entries).unwrap_err();
        assert!(
            matches!(err, DumpError::Malformed(m) if m.offset >= 20),
            "{err:?}"
        );
        assert!(entries.is_empty());
        assert_eq!(first.payload_offset, 16);
    }

    #[test]
    fn a_message_of_another_type_is_malformed() {
        let datagram = [message(0x0105, NLM_F_MULTI, &[2, 0, 0, 0]), done(0)].concat();
        let err = parse_datagram(&datagram, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, DumpError::Malformed(m) if m.problem == "not a ctnetlink entry message")
        );
    }

    #[test]
    fn tcp_states_by_number() {
        assert_eq!(TcpConntrackState::from_code(3).name(), "ESTABLISHED");
        assert_eq!(TcpConntrackState::from_code(7).name(), "TIME_WAIT");
        assert_eq!(TcpConntrackState::from_code(9), TcpConntrackState::SynSent2);
        assert_eq!(
            TcpConntrackState::from_code(42),
            TcpConntrackState::Unknown(42)
        );
    }

    /// The lab's flows dumped through ctnetlink and listed by `conntrack -L`
    /// right after, inside the same namespace.
    #[test]
    fn live_dump_matches_conntrack_listing() {
        use crate::netlink::lab::{can_run, Lab};
        use crate::collect::netns_enter::in_netns;
        if !can_run("live_dump_matches_conntrack_listing") {
            return;
        }
        let lab = Lab::new();
        let _flows = lab.flows();
        let dumped = in_netns(lab.nat.path(), || collect(Selection::All))
            .unwrap()
            .unwrap();
        // Every entry, the kernel's own ones too, at nearly the same moment.
        let listed_count: usize = lab.nat.exec("conntrack", &["-C"]).trim().parse().unwrap();
        assert!(
            dumped.entries.len().abs_diff(listed_count) <= 2,
            "{} dumped vs {listed_count}",
            dumped.entries.len()
        );
        let listing = [
            lab.nat
                .exec("conntrack", &["-L", "-f", "ipv4", "-o", "extended,id"]),
            lab.nat
                .exec("conntrack", &["-L", "-f", "ipv6", "-o", "extended,id"]),
        ]
        .concat();
        let listed: Vec<Listed> = listing.lines().map(listed).collect();
        // Flows the lab made: 10 TCP (one closed) and 5 UDP; the kernel may
        // add others (IGMP, MLD) between the two reads.
        let lab_flow = |protocol: u8| protocol == 6 || protocol == 17;
        let mut dumped_ids: Vec<u32> = dumped
            .entries
            .iter()
            .filter(|e| lab_flow(e.original.protocol))
            .map(|e| e.id)
            .collect();
        let mut listed_ids: Vec<u32> = listed
            .iter()
            .filter(|l| lab_flow(l.protocol))
            .map(|l| l.id)
            .collect();
        dumped_ids.sort();
        listed_ids.sort();
        assert_eq!(dumped_ids.len(), 15, "{dumped:#?}");
        assert_eq!(dumped_ids, listed_ids, "{listing}");
        for entry in &dumped.entries {
            if let Some(line) = listed.iter().find(|l| l.id == entry.id) {
                assert_matches_listing(entry, line, 2);
            }
        }
        assert!(!dumped.kernel_filtered);

        let src_nat = lab
            .nat
            .exec("conntrack", &["-L", "-f", "ipv4", "--src-nat", "-o", "id"])
            + &lab
                .nat
                .exec("conntrack", &["-L", "-f", "ipv6", "--src-nat", "-o", "id"]);
        let mut expected = listed_ids_of(&src_nat);
        let filtered = in_netns(lab.nat.path(), || collect(Selection::SourceNat))
            .unwrap()
            .unwrap();
        let mut ids: Vec<u32> = filtered.entries.iter().map(|e| e.id).collect();
        ids.sort();
        expected.sort();
        assert_eq!(ids, expected);
        // Linux 6.18 applies the status filter and says so.
        assert!(filtered.kernel_filtered);

        let dst_nat = lab
            .nat
            .exec("conntrack", &["-L", "-f", "ipv4", "--dst-nat", "-o", "id"])
            + &lab
                .nat
                .exec("conntrack", &["-L", "-f", "ipv6", "--dst-nat", "-o", "id"]);
        let mut expected = listed_ids_of(&dst_nat);
        let filtered = in_netns(lab.nat.path(), || collect(Selection::DestinationNat))
            .unwrap()
            .unwrap();
        let mut ids: Vec<u32> = filtered.entries.iter().map(|e| e.id).collect();
        ids.sort();
        expected.sort();
        assert!(!expected.is_empty(), "the lab's Service flows are DNAT entries");
        assert_eq!(ids, expected);
        assert!(filtered.entries.iter().all(|e| e.status.is_dst_nat()));
    }

    fn listed_ids_of(listing: &str) -> Vec<u32> {
        listing
            .lines()
            .map(|line| {
                let id = line.split_whitespace().find_map(|f| f.strip_prefix("id="));
                id.unwrap().parse().unwrap()
            })
            .collect()
    }

    /// The lab's two IPv6 flows among the entries of both families, and a
    /// namespace without conntrack, which dumps nothing.
    #[test]
    fn live_ipv6_entries_and_empty_namespace() {
        use crate::netlink::lab::{can_run, Lab, Netns};
        use crate::collect::netns_enter::in_netns;
        if !can_run("live_ipv6_entries_and_empty_namespace") {
            return;
        }
        let lab = Lab::new();
        let _flows = lab.flows();
        let dumped = in_netns(lab.nat.path(), || collect(Selection::All))
            .unwrap()
            .unwrap();
        let v6: Vec<&Entry> = dumped
            .entries
            .iter()
            .filter(|e| e.original.src.is_ipv6())
            .collect();
        assert_eq!(v6.len(), 2, "{dumped:#?}");
        assert!(v6
            .iter()
            .all(|e| e.original.dst.is_ipv6() && e.reply.src.is_ipv6() && e.reply.dst.is_ipv6()));

        let empty = Netns::new("empty");
        for selection in [Selection::All, Selection::SourceNat] {
            let nothing = in_netns(empty.path(), || collect(selection))
                .unwrap()
                .unwrap();
            assert_eq!(nothing.entries, [], "{selection:?}");
        }
    }

    /// Times the ctnetlink dump against `conntrack -L` over a table of
    /// 50,000 UDP entries, half of them SNATed, alternating the two in each
    /// round. Run alone, as root:
    /// `cargo test --release measure_conntrack -- --ignored --nocapture`.
    #[test]
    #[ignore = "measurement, not a check: makes 50,000 conntrack entries"]
    fn measure_conntrack_dump_against_conntrack_tool() {
        use crate::netlink::lab::{can_run, Netns};
        use crate::collect::netns_enter::in_netns;
        use std::process::{Command, Stdio};
        use std::time::{Duration, Instant};
        const ENTRIES: u16 = 50_000;
        assert!(can_run("measure_conntrack_dump_against_conntrack_tool"));
        let netns = Netns::new("bench");
        // No dummy driver on the test kernel: a veth pair whose far end
        // has no address drops what the near end sends.
        netns.ip(&[
            "link", "add", "nlv0", "type", "veth", "peer", "name", "nlv1",
        ]);
        netns.ip(&["link", "set", "nlv0", "up"]);
        netns.ip(&["link", "set", "nlv1", "up"]);
        netns.ip(&["addr", "add", "198.19.0.1/16", "dev", "nlv0"]);
        let to = [
            "198.19.0.9",
            "lladdr",
            "02:00:00:00:00:09",
            "dev",
            "nlv0",
            "nud",
            "permanent",
        ];
        netns.ip(&[&["neigh", "add"], &to[..]].concat());
        netns.sysctl("net.netfilter.nf_conntrack_udp_timeout=600");
        netns.nft(
            "table ip bench {
                chain post {
                    type nat hook postrouting priority srcnat; policy accept;
                    udp dport < 35000 snat to 198.19.0.2
                }
            }",
        );
        in_netns(netns.path(), || {
            let socket = std::net::UdpSocket::bind("198.19.0.1:9").unwrap();
            for port in 10_000..10_000 + ENTRIES {
                socket.send_to(b"x", ("198.19.0.9", port)).unwrap();
            }
        })
        .unwrap();
        let tool = |args: &[&str]| {
            let start = Instant::now();
            let status = Command::new("ip")
                .args([&["netns", "exec", netns.name(), "conntrack"], args].concat())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
            start.elapsed()
        };
        let spawn_only = {
            let start = Instant::now();
            Command::new("ip")
                .args(["netns", "exec", netns.name(), "true"])
                .status()
                .unwrap();
            start.elapsed()
        };
        let median = |mut times: Vec<Duration>| {
            times.sort();
            times[times.len() / 2]
        };
        for (label, selection, args) in [
            ("all", Selection::All, &["-L"][..]),
            ("SNAT only", Selection::SourceNat, &["-L", "--src-nat"][..]),
        ] {
            let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            let mut count = 0;
            for _ in 0..7 {
                let (time, entries) = in_netns(netns.path(), || {
                    let start = Instant::now();
                    let dumped = collect(selection).unwrap();
                    (start.elapsed(), dumped.entries.len())
                })
                .unwrap();
                count = entries;
                let tool_time = tool(args);
                ratios.push(tool_time.as_secs_f64() / time.as_secs_f64());
                ours.push(time);
                theirs.push(tool_time);
            }
            ratios.sort_by(f64::total_cmp);
            println!(
                "{label}: {count} entries; netlink dump median {:?} (runs {ours:?}); \
                 ip netns exec conntrack {} median {:?} (runs {theirs:?}); \
                 conntrack/netlink per round {ratios:.1?}",
                median(ours.clone()),
                args.join(" "),
                median(theirs.clone()),
            );
        }
        let unparsed: Vec<Duration> = (0..7)
            .map(|_| {
                in_netns(netns.path(), || {
                    let start = Instant::now();
                    let request = dump_request(Selection::All);
                    exchange("ctnetlink dump", NETLINK_NETFILTER, &request, |_| Ok(())).unwrap();
                    start.elapsed()
                })
                .unwrap()
            })
            .collect();
        println!(
            "netlink dump of all, messages not parsed: median {:?}",
            median(unparsed)
        );
        println!("ip netns exec ... true alone: {spawn_only:?}");
    }
}
