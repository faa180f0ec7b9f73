//! CRI-O's and podman's bundles in containers/storage (runtimes.md §4.1,
//! §4.5): `{/run,/var/lib}/containers/storage/<driver>-containers/<id>/userdata/config.json`,
//! and podman's container names in the `containers.json` and
//! `volatile-containers.json` indexes next to them.

use std::path::Path;

use serde::Deserialize;

use super::containerd::read_bundle;
use super::root_files::RootFiles;
use crate::collect::files::Cap;
use crate::model::ContainerInfo;
use crate::parse::ids::is_container_id;

const STORAGE_ROOTS: [&str; 2] = ["/run/containers/storage", "/var/lib/containers/storage"];
const NAME_INDEXES: [&str; 2] = ["containers.json", "volatile-containers.json"];

/// The bundles first, then a name-only entry for every container an index
/// names: the catalog fills the bundles' missing names from those.
pub fn containers(files: &mut RootFiles) -> Vec<ContainerInfo> {
    let mut bundles = Vec::new();
    let mut named = Vec::new();
    for storage_root in STORAGE_ROOTS {
        let storage_root = Path::new(storage_root);
        if !files.first_visit(storage_root) {
            continue;
        }
        for driver in files.list(storage_root) {
            if !driver.as_encoded_bytes().ends_with(b"-containers") {
                continue;
            }
            let driver_dir = storage_root.join(&driver);
            for index in NAME_INDEXES {
                let path = driver_dir.join(index);
                let Some(bytes) = files.read(&path, Cap::NAME_INDEX, None) else {
                    continue;
                };
                match parse_storage_names(bytes) {
                    Ok(names) => named.extend(names.into_iter().map(|(id, name)| ContainerInfo {
                        name: Some(name),
                        ..ContainerInfo::unnamed(id)
                    })),
                    Err(err) => files.warn(&path, format!("bad JSON: {err}"), None),
                }
            }
            // containers/storage generates 64-hex ids; the directory also
            // holds the index files and their locks.
            for id in files.list(&driver_dir) {
                if !is_container_id(id.as_encoded_bytes()) {
                    continue;
                }
                let config_path = driver_dir.join(&id).join("userdata/config.json");
                bundles.extend(read_bundle(files, &config_path, &id));
            }
        }
    }
    bundles.extend(named);
    bundles
}

/// One entry of containers/storage's `containers.json`; podman's names are
/// in `names` (its first is the one `podman ps` shows).
#[derive(Deserialize)]
struct StorageContainer {
    id: String,
    #[serde(default)]
    names: Vec<String>,
}

/// Container id -> first name, from a containers/storage name index.
fn parse_storage_names(bytes: &[u8]) -> Result<Vec<(String, String)>, serde_json::Error> {
    let entries: Vec<StorageContainer> = serde_json::from_slice(bytes)?;
    Ok(entries
        .into_iter()
        .filter_map(|entry| Some((entry.id, entry.names.into_iter().next()?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_names_come_from_the_recorded_podman_index() {
        let bytes = std::fs::read(format!(
            "{}/testdata/oci/podman-4.3-containers.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let names = parse_storage_names(&bytes).unwrap();
        assert_eq!(
            names,
            [
                (
                    "cdc0ff01adb8f151c6fae347db2ba16c7e4ec9a9954f4ef6ab948d1704646daf".to_owned(),
                    "cnetstat-runtimes-plain".to_owned()
                ),
                (
                    "d60c70184be95e572e086b81f0073d25e865fa59659f505d7cee8f0a844594e8".to_owned(),
                    "cnetstat-runtimes-k8s".to_owned()
                ),
                (
                    "7cb9bbbe91c65b850922c45b8355ee0c0a4cd530471be7e18dc3c521b60b751b".to_owned(),
                    "cnetstat-parsers-p".to_owned()
                ),
            ]
        );
        assert!(parse_storage_names(b"{}").is_err());
    }
}
