//! Docker's `/containers/json` body: `names::docker::parse_containers`.
//!
//! Asserts: no panic; one container per element of the list, in order,
//! each Docker's and with the id it was listed with; a pod's sandbox is
//! named; each serialises and reads back the same.
#![no_main]

use cnetstat::model::{ContainerInfo, Runtime};
use cnetstat::names::docker::parse_containers;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

#[derive(Deserialize)]
struct Listed {
    #[serde(rename = "Id")]
    id: String,
}

fuzz_target!(|data: &[u8]| {
    let Ok(containers) = parse_containers(data) else {
        return;
    };
    let listed: Vec<Listed> = serde_json::from_slice(data).expect("the same list, read again");
    assert_eq!(containers.len(), listed.len());
    for (container, listed) in containers.iter().zip(&listed) {
        assert_eq!(container.id, listed.id);
        assert_eq!(container.runtime, Some(Runtime::Docker));
        assert!(container.netns_path.is_none() && container.sandbox_id.is_none());
        if container.sandbox && container.pod.is_some() {
            assert!(container.name.is_some(), "{container:?}");
        }
        let json = cnetstat::escape::to_json(container).unwrap();
        let again: ContainerInfo = serde_json::from_slice(&json).unwrap();
        assert_eq!(&again, container);
    }
});
