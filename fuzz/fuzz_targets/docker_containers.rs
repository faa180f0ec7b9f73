//! Docker's `/containers/json` body: the streaming list parser, through
//! `names::docker::parse_in_pieces`, fed as the body may arrive.
//!
//! Input: byte 0 is a piece size (0: the body in one piece), the rest is
//! the body.
//!
//! Asserts: no panic; the body fed in pieces of that size, in one piece,
//! and a byte at a time gives the same containers or the same error; a
//! list read is a JSON list of objects, each with a string `Id`, and holds
//! one container per element whose id is short enough to keep, in order,
//! with that id, Docker's; every kept string is within the limit; a pod's
//! sandbox is named; each container serialises and reads back the same.
#![no_main]

use std::fmt;

use cnetstat::model::{ContainerInfo, Runtime};
use cnetstat::names::docker::parse_in_pieces;
use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

/// `MAX_KEPT_BYTES` of names/docker.rs: a longer id cannot be a
/// container's, and a longer name or label is left out.
const MAX_KEPT_BYTES: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&piece_size, body)) = data.split_first() else {
        return;
    };
    let cuts = |step: usize| (step..body.len()).step_by(step).collect::<Vec<_>>();
    let whole = parse_in_pieces(body, &[]);
    let outcome = |parsed: &Result<Vec<ContainerInfo>, _>| match parsed {
        Ok(containers) => Ok(containers.clone()),
        Err(error) => Err(format!("{error}")),
    };
    for step in [usize::from(piece_size).max(1), 1] {
        assert_eq!(
            outcome(&parse_in_pieces(body, &cuts(step))),
            outcome(&whole),
            "in pieces of {step} bytes"
        );
    }
    let Ok(containers) = whole else {
        return;
    };

    let listed: Vec<ListedId> = serde_json::from_slice(body).expect("the same list, read again");
    let kept: Vec<String> = listed
        .into_iter()
        .map(|element| element.0.expect("every element has an Id"))
        .filter(|id| id.len() <= MAX_KEPT_BYTES)
        .collect();
    assert_eq!(containers.len(), kept.len());
    for (container, id) in containers.iter().zip(&kept) {
        assert_eq!(&container.id, id);
        assert_eq!(container.runtime, Some(Runtime::Docker));
        assert!(container.netns_path.is_none() && container.sandbox_id.is_none());
        let pod_strings = container.pod.iter().flat_map(|pod| {
            [Some(&pod.namespace), Some(&pod.name), pod.uid.as_ref()]
                .into_iter()
                .flatten()
        });
        for kept in container.name.iter().chain(pod_strings) {
            assert!(kept.len() <= MAX_KEPT_BYTES, "{kept}");
        }
        if container.sandbox && container.pod.is_some() {
            assert!(container.name.is_some(), "{container:?}");
        }
        let json = cnetstat::escape::to_json(container).unwrap();
        let again: ContainerInfo = serde_json::from_slice(&json).unwrap();
        assert_eq!(&again, container);
    }
});

/// An element of the list read independently: its last `Id` string, the
/// rest skipped (as Docker's reader skips what it does not keep).
struct ListedId(Option<String>);

impl<'de> Deserialize<'de> for ListedId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl<'de> Visitor<'de> for IdVisitor {
            type Value = ListedId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<ListedId, M::Error> {
                let mut id = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "Id" {
                        id = Some(map.next_value()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(ListedId(id))
            }
        }
        deserializer.deserialize_map(IdVisitor)
    }
}
