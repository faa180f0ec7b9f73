//! How the name sources read the node's files: every path resolved inside
//! the node root, each directory listed once however many names lead to it
//! (`/var/run` is usually `/run`), files read into one reused buffer, and
//! every file that exists but cannot be read recorded as a warning naming
//! its path. A missing file or directory is normal (a node runs one or two
//! runtimes; bundles come and go while they are listed) and is silent.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::collect::host_root::HostRoot;
use crate::collect::procfs::read_into;
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
        let dir = match self.root.resolve(host_dir) {
            Ok(dir) => dir,
            Err(err) => {
                self.note_unless_missing(host_dir, err, None);
                return false;
            }
        };
        match std::fs::metadata(&dir) {
            Ok(metadata) => self.seen_dirs.insert((metadata.dev(), metadata.ino())),
            Err(err) => {
                self.note_unless_missing(&dir, err, None);
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
    /// it describes, for the warning should it be unreadable.
    pub fn read(&mut self, host_path: &Path, container_id: Option<&str>) -> Option<&[u8]> {
        self.buffer.clear();
        let path = match self.root.resolve(host_path) {
            Ok(path) => path,
            Err(err) => {
                self.note_unless_missing(host_path, err, container_id);
                return None;
            }
        };
        match read_into(&path, &mut self.buffer) {
            Ok(()) => Some(&self.buffer),
            Err(err) => {
                self.note_unless_missing(&path, err, container_id);
                None
            }
        }
    }

    /// The path a link under the root points to, as written (never followed).
    pub fn read_link(&mut self, host_path: &Path) -> Option<std::path::PathBuf> {
        let path = self.root.resolve(host_path.parent()?).ok()?;
        std::fs::read_link(path.join(host_path.file_name()?)).ok()
    }

    /// A file that was read but says nothing sensible.
    pub fn warn(&mut self, host_path: &Path, problem: String, container_id: Option<&str>) {
        let shown = self
            .root
            .resolve(host_path)
            .unwrap_or_else(|_| host_path.to_path_buf());
        self.warnings.push(Warning::RuntimeFile {
            path: shown.display().to_string(),
            problem,
            container_id: container_id.map(str::to_owned),
        });
    }

    fn note_unless_missing(&mut self, path: &Path, err: io::Error, container_id: Option<&str>) {
        if err.kind() == io::ErrorKind::NotFound {
            return;
        }
        self.warnings.push(Warning::RuntimeFile {
            path: path.display().to_string(),
            problem: err.to_string(),
            container_id: container_id.map(str::to_owned),
        });
    }
}
