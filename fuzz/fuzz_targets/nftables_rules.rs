//! nf_tables rule dumps: `netlink::nftables::parse_rule` on each data
//! message of one datagram, walked by `netlink::message::walk_answer` as
//! `dump_rules` walks them, then `NatRule::from_rule` on each rule.
//!
//! Input: one datagram.
//!
//! Asserts: no panic; a `Malformed` that ends the walk, or that a rule
//! keeps as an unreadable expression, points into the message it is about
//! (or, for a bad header, at a byte of the datagram); the rules read in
//! full, encoded again as the kernel writes them (nests flagged
//! NLA_F_NESTED) and followed by `NLMSG_DONE`, read back the same, and the
//! walk ends done. A rule is a source NAT rule exactly when its first NAT
//! expression (`masq`, `nat`, an xtables target) is `masq`, an SNAT `nat`
//! or a MASQUERADE or SNAT target, and then the NAT rule is that rule's,
//! of that expression, a masquerade exactly when the expression is one,
//! with flags that say what its booleans say.
#![no_main]

use cnetstat::netlink::nftables::{
    parse_rule, Expression, Immediate, NatExpression, NatKind, NatRule, Rule, NFT_NAT_SNAT,
    NF_NAT_RANGE_PERSISTENT, NF_NAT_RANGE_PROTO_RANDOM, NF_NAT_RANGE_PROTO_RANDOM_FULLY,
};
use cnetstat::netlink::nftables::{
    NFNL_SUBSYS_NFTABLES, NFTA_BITWISE_DREG, NFTA_BITWISE_LEN, NFTA_BITWISE_MASK, NFTA_BITWISE_OP,
    NFTA_BITWISE_SREG, NFTA_BITWISE_XOR, NFTA_CMP_DATA, NFTA_CMP_OP, NFTA_CMP_SREG,
    NFTA_DATA_VALUE, NFTA_DATA_VERDICT, NFTA_EXPR_DATA, NFTA_EXPR_NAME, NFTA_IMMEDIATE_DATA,
    NFTA_IMMEDIATE_DREG, NFTA_LIST_ELEM, NFTA_MASQ_FLAGS, NFTA_MASQ_REG_PROTO_MAX,
    NFTA_MASQ_REG_PROTO_MIN, NFTA_META_DREG, NFTA_META_KEY, NFTA_META_SREG, NFTA_NAT_FAMILY,
    NFTA_NAT_FLAGS, NFTA_NAT_REG_ADDR_MAX, NFTA_NAT_REG_ADDR_MIN, NFTA_NAT_REG_PROTO_MAX,
    NFTA_NAT_REG_PROTO_MIN, NFTA_NAT_TYPE, NFTA_PAYLOAD_BASE, NFTA_PAYLOAD_DREG, NFTA_PAYLOAD_LEN,
    NFTA_PAYLOAD_OFFSET, NFTA_PAYLOAD_SREG, NFTA_RANGE_FROM_DATA, NFTA_RANGE_OP, NFTA_RANGE_SREG,
    NFTA_RANGE_TO_DATA, NFTA_RULE_CHAIN, NFTA_RULE_COMPAT, NFTA_RULE_COMPAT_FLAGS,
    NFTA_RULE_COMPAT_PROTO, NFTA_RULE_EXPRESSIONS, NFTA_RULE_HANDLE, NFTA_RULE_POSITION,
    NFTA_RULE_TABLE, NFTA_RULE_USERDATA, NFTA_VERDICT_CHAIN, NFTA_VERDICT_CODE, NFTA_XT_INFO,
    NFTA_XT_NAME, NFTA_XT_REV, NFT_MSG_NEWRULE,
};
use cnetstat_fuzz::netlink::{assert_within, done, message, span, walk, Attrs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rules = Vec::new();
    // A kernel error ends the walk too; the rules before it stand.
    let _ = walk(data, |m| {
        let rule = parse_rule(m)?;
        for expression in &rule.expressions {
            if let Expression::Unreadable { problem, .. } = expression {
                assert_within(problem, &span(m));
            }
        }
        rules.push(rule);
        Ok(())
    });
    for rule in &rules {
        check_nat(rule);
    }

    // An unreadable expression cannot be written again.
    let readable: Vec<&Rule> = rules
        .iter()
        .filter(|rule| {
            !rule
                .expressions
                .iter()
                .any(|e| matches!(e, Expression::Unreadable { .. }))
        })
        .collect();
    let Some(messages) = readable
        .iter()
        .map(|rule| encode(rule))
        .collect::<Option<Vec<_>>>()
    else {
        return; // A string gained its NUL past an attribute's 64 KiB.
    };
    let mut datagram = messages.concat();
    datagram.extend_from_slice(&done());
    let mut again = Vec::new();
    let progress = walk(&datagram, |m| {
        again.push(parse_rule(m)?);
        Ok(())
    })
    .unwrap();
    assert!(progress.done);
    assert_eq!(again.iter().collect::<Vec<_>>(), readable);
});

fn check_nat(rule: &Rule) {
    let first_nat = rule.expressions.iter().find(|e| {
        matches!(
            e,
            Expression::Masq { .. } | Expression::Nat { .. } | Expression::XtTarget { .. }
        )
    });
    let expected = match first_nat {
        Some(Expression::Masq { .. }) => Some((NatExpression::Masq, true)),
        Some(Expression::Nat { nat_type, .. }) if *nat_type == NFT_NAT_SNAT => {
            Some((NatExpression::Nat, false))
        }
        Some(Expression::XtTarget { name, revision, .. })
            if name == "MASQUERADE" || name == "SNAT" =>
        {
            let expression = NatExpression::XtTarget {
                name: name.clone(),
                revision: *revision,
            };
            Some((expression, name == "MASQUERADE"))
        }
        _ => None,
    };
    let nat = NatRule::from_rule(rule);
    let (Some(nat), Some((expression, masquerade))) = (&nat, expected) else {
        assert!(nat.is_none(), "{nat:?} from {rule:?}");
        return;
    };
    assert_eq!(
        (nat.family, &nat.table, &nat.chain, nat.handle),
        (rule.family, &rule.table, &rule.chain, rule.handle)
    );
    assert_eq!(nat.expression, expression);
    assert_eq!(matches!(nat.kind, NatKind::Masquerade), masquerade);
    assert_eq!(nat.random, nat.flags & NF_NAT_RANGE_PROTO_RANDOM != 0);
    assert_eq!(
        nat.fully_random,
        nat.flags & NF_NAT_RANGE_PROTO_RANDOM_FULLY != 0
    );
    assert_eq!(nat.persistent, nat.flags & NF_NAT_RANGE_PERSISTENT != 0);
}

/// One NFT_MSG_NEWRULE message as nf_tables_fill_rule_info writes it.
fn encode(rule: &Rule) -> Option<Vec<u8>> {
    let mut attrs = Attrs::default();
    attrs
        .add_string(NFTA_RULE_TABLE, &rule.table)
        .add_string(NFTA_RULE_CHAIN, &rule.chain)
        .add(NFTA_RULE_HANDLE, &rule.handle.to_be_bytes());
    if let Some(position) = rule.position {
        attrs.add(NFTA_RULE_POSITION, &position.to_be_bytes());
    }
    if !rule.expressions.is_empty() {
        let mut list = Attrs::default();
        for expression in &rule.expressions {
            list.add_nested(NFTA_LIST_ELEM, list_element(expression));
        }
        attrs.add_nested(NFTA_RULE_EXPRESSIONS, list);
    }
    if let Some((proto, flags)) = rule.compat {
        let mut compat = Attrs::default();
        compat
            .add(NFTA_RULE_COMPAT_PROTO, &proto.to_be_bytes())
            .add(NFTA_RULE_COMPAT_FLAGS, &flags.to_be_bytes());
        attrs.add_nested(NFTA_RULE_COMPAT, compat);
    }
    if let Some(userdata) = &rule.userdata {
        attrs.add(NFTA_RULE_USERDATA, userdata);
    }
    // nfgenmsg: the table's family, version 0, resource id (generation) 0.
    message(
        NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE,
        &[rule.family, 0, 0, 0],
        attrs,
    )
}

/// An expression's NFTA_LIST_ELEM: its name, and its data unless it has
/// none to give. Registers and numbers are be32, as the kernel dumps them.
fn list_element(expression: &Expression) -> Attrs {
    let mut data = Fields::default();
    let name = match expression {
        Expression::Payload {
            dreg,
            base,
            offset,
            len,
        } => {
            data.be32(NFTA_PAYLOAD_DREG, *dreg)
                .be32(NFTA_PAYLOAD_BASE, *base)
                .be32(NFTA_PAYLOAD_OFFSET, *offset)
                .be32(NFTA_PAYLOAD_LEN, *len);
            "payload"
        }
        Expression::PayloadWrite { name } => {
            data.be32(NFTA_PAYLOAD_SREG, 1); // A source register makes it a write.
            name
        }
        Expression::Meta { key, dreg, sreg } => {
            data.be32(NFTA_META_KEY, *key)
                .maybe_be32(NFTA_META_DREG, *dreg)
                .maybe_be32(NFTA_META_SREG, *sreg);
            "meta"
        }
        Expression::Cmp {
            sreg,
            op,
            data: value,
        } => {
            data.be32(NFTA_CMP_SREG, *sreg)
                .be32(NFTA_CMP_OP, *op)
                .value(NFTA_CMP_DATA, value);
            "cmp"
        }
        Expression::Bitwise {
            sreg,
            dreg,
            len,
            op,
            mask,
            xor,
        } => {
            data.be32(NFTA_BITWISE_SREG, *sreg)
                .be32(NFTA_BITWISE_DREG, *dreg)
                .be32(NFTA_BITWISE_LEN, *len)
                .be32(NFTA_BITWISE_OP, *op);
            // A missing mask or xor reads as empty.
            if !mask.is_empty() {
                data.value(NFTA_BITWISE_MASK, mask);
            }
            if !xor.is_empty() {
                data.value(NFTA_BITWISE_XOR, xor);
            }
            "bitwise"
        }
        Expression::Range { sreg, op, from, to } => {
            data.be32(NFTA_RANGE_SREG, *sreg)
                .be32(NFTA_RANGE_OP, *op)
                .value(NFTA_RANGE_FROM_DATA, from)
                .value(NFTA_RANGE_TO_DATA, to);
            "range"
        }
        Expression::Immediate { dreg, data: value } => {
            let mut immediate = Attrs::default();
            match value {
                Immediate::Value(bytes) => {
                    immediate.add(NFTA_DATA_VALUE, bytes);
                }
                Immediate::Verdict { code, chain } => {
                    let mut verdict = Attrs::default();
                    verdict.add(NFTA_VERDICT_CODE, &code.to_be_bytes());
                    if let Some(chain) = chain {
                        verdict.add_string(NFTA_VERDICT_CHAIN, chain);
                    }
                    immediate.add_nested(NFTA_DATA_VERDICT, verdict);
                }
            }
            data.be32(NFTA_IMMEDIATE_DREG, *dreg);
            data.0.add_nested(NFTA_IMMEDIATE_DATA, immediate);
            "immediate"
        }
        Expression::Masq {
            flags,
            proto_min_reg,
            proto_max_reg,
        } => {
            data.be32(NFTA_MASQ_FLAGS, *flags)
                .maybe_be32(NFTA_MASQ_REG_PROTO_MIN, *proto_min_reg)
                .maybe_be32(NFTA_MASQ_REG_PROTO_MAX, *proto_max_reg);
            "masq"
        }
        Expression::Nat {
            nat_type,
            family,
            addr_min_reg,
            addr_max_reg,
            proto_min_reg,
            proto_max_reg,
            flags,
        } => {
            data.be32(NFTA_NAT_TYPE, *nat_type)
                .be32(NFTA_NAT_FAMILY, *family)
                .maybe_be32(NFTA_NAT_REG_ADDR_MIN, *addr_min_reg)
                .maybe_be32(NFTA_NAT_REG_ADDR_MAX, *addr_max_reg)
                .maybe_be32(NFTA_NAT_REG_PROTO_MIN, *proto_min_reg)
                .maybe_be32(NFTA_NAT_REG_PROTO_MAX, *proto_max_reg)
                .be32(NFTA_NAT_FLAGS, *flags);
            "nat"
        }
        Expression::XtMatch {
            name,
            revision,
            info,
        } => {
            data.xtables(name, *revision, info);
            "match"
        }
        Expression::XtTarget {
            name,
            revision,
            info,
        } => {
            data.xtables(name, *revision, info);
            "target"
        }
        Expression::Other { name } => {
            let mut element = Attrs::default();
            element.add_string(NFTA_EXPR_NAME, name);
            return element;
        }
        Expression::Unreadable { .. } => unreachable!("unreadable rules are not encoded"),
    };
    let mut element = Attrs::default();
    element
        .add_string(NFTA_EXPR_NAME, name)
        .add_nested(NFTA_EXPR_DATA, data.0);
    element
}

/// An expression's NFTA_EXPR_DATA, by attribute number.
#[derive(Default)]
struct Fields(Attrs);

impl Fields {
    fn be32(&mut self, kind: u16, value: u32) -> &mut Fields {
        self.0.add(kind, &value.to_be_bytes());
        self
    }

    fn maybe_be32(&mut self, kind: u16, value: Option<u32>) -> &mut Fields {
        if let Some(value) = value {
            self.be32(kind, value);
        }
        self
    }

    /// An `nft_data` value: NFTA_DATA_VALUE inside the attribute.
    fn value(&mut self, kind: u16, bytes: &[u8]) -> &mut Fields {
        let mut value = Attrs::default();
        value.add(NFTA_DATA_VALUE, bytes);
        self.0.add_nested(kind, value);
        self
    }

    /// An xtables match or target: name, revision, the extension's struct.
    fn xtables(&mut self, name: &str, revision: u32, info: &[u8]) {
        self.0.add_string(NFTA_XT_NAME, name);
        self.be32(NFTA_XT_REV, revision);
        self.0.add(NFTA_XT_INFO, info);
    }
}
