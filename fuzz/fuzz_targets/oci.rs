//! OCI runtime specs (`config.json`): `parse::oci::parse_config_json`.
//!
//! Asserts: no panic; the container keeps the id it was given; a spec no
//! runtime annotated names nothing; a sandbox is a CRI sandbox named as the
//! kubelet names them; the result serialises and reads back the same.
#![no_main]

use cnetstat::model::{ContainerInfo, Runtime, SANDBOX_NAME};
use cnetstat::parse::oci::parse_config_json;
use libfuzzer_sys::fuzz_target;

const ID: &str = "423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04";

fuzz_target!(|data: &[u8]| {
    let Ok(container) = parse_config_json(data, ID) else {
        return;
    };
    assert_eq!(container.id, ID);
    match container.runtime {
        None => {
            assert_eq!(container.name, None);
            assert_eq!(container.pod, None);
            assert!(!container.sandbox && container.sandbox_id.is_none());
        }
        Some(Runtime::Podman) => assert!(!container.sandbox && container.sandbox_id.is_none()),
        Some(Runtime::Containerd | Runtime::CriO) => {}
        Some(Runtime::Docker) => panic!("an OCI spec never names Docker: {container:?}"),
    }
    if container.sandbox {
        assert_eq!(container.name.as_deref(), Some(SANDBOX_NAME));
    }
    let json = cnetstat::escape::to_json(&container).unwrap();
    let again: ContainerInfo = serde_json::from_slice(&json).unwrap();
    assert_eq!(again, container);
});
