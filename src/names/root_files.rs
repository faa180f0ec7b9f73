//! How the name sources read the node's files: every path resolved by the
//! kernel inside the node root (collect/host_root.rs), each directory
//! listed once however many names lead to it (`/var/run` is usually
//! `/run`), files read into one reused buffer with a cap for their kind
//! (collect/files.rs), and every file that exists but cannot be used
//! recorded as a warning naming its path. A missing file or directory is
//! normal (a node runs one or two runtimes; bundles come and go while they
//! are listed) and is silent.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::collect::files::{self, Cap};
use crate::collect::host_root::HostRoot;
use crate::model::Warning;

pub struct RootFiles<'r> {
    root: &'r HostRoot,
    buffer: Vec<u8>,
    /// (st_dev, st_ino) of directories already listed.
    seen_dirs: HashSet<(u64, u64)>,
    pub warnings: Vec<Warning>,
}

impl<'r> RootFiles<'r> {
    pub fn new(root: &'r HostRoot) -> RootFiles<'r> {
        RootFiles {
            root,
            buffer: Vec::new(),
            seen_dirs: HashSet::new(),
            warnings: Vec::new(),
        }
    }

    /// Whether `host_dir` is an existing directory not listed before under
    /// another name.
    pub fn first_visit(&mut self, host_dir: &Path) -> bool {
        let stat = self
            .root
            .open_handle(host_dir)
            .and_then(|handle| File::from(handle).metadata());
        match stat {
            Ok(metadata) => metadata.is_dir() && self.seen_dirs.insert((metadata.dev(), metadata.ino())),
            Err(err) => {
                self.note_unless_missing(host_dir, err, None);
                false
            }
        }
    }

    /// The names in a host directory; nothing when it does not exist.
    pub fn list(&mut self, host_dir: &Path) -> Vec<OsString> {
        match self.root.read_dir_names(host_dir) {
            Ok(names) => names,
            Err(err) => {
                self.note_unless_missing(host_dir, err, None);
                Vec::new()
            }
        }
    }

    /// A whole file, in the shared buffer; `container_id` is the container
    /// it describes, for the warning should it be unusable.
    pub fn read(&mut self, host_path: &Path, cap: Cap, container_id: Option<&str>) -> Option<&[u8]> {
        let read = self
            .root
            .open_file(host_path)
            .and_then(|file| files::read_regular(file, cap, &mut self.buffer));
        match read {
            Ok(()) => Some(&self.buffer),
            Err(err) => {
                self.note_unless_missing(host_path, err, container_id);
                None
            }
        }
    }

    /// The path a link under the root points to, as written (never followed).
    pub fn read_link(&mut self, host_path: &Path) -> Option<PathBuf> {
        self.root.read_link(host_path).ok()
    }

    /// A file that was read but says nothing sensible.
    pub fn warn(&mut self, host_path: &Path, problem: String, container_id: Option<&str>) {
        self.warnings.push(Warning::RuntimeFile {
            path: self.root.shown(host_path).display().to_string(),
            problem,
            container_id: container_id.map(str::to_owned),
        });
    }

    fn note_unless_missing(&mut self, host_path: &Path, err: io::Error, container_id: Option<&str>) {
        if err.kind() != io::ErrorKind::NotFound {
            self.warn(host_path, err.to_string(), container_id);
        }
    }
}
