//! Listing a directory already open: getdents64 into a buffer on the stack,
//! with no allocation per entry (musl's allocator, in the static build, is
//! slow and takes a global lock) and no path to walk again.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use crate::parse::proc_pid::dirent_names;

/// Calls `each` with the name of every entry of `dir` but `.` and `..`,
/// stopping at the first error it returns.
pub fn for_each_name(dir: &File, mut each: impl FnMut(&CStr) -> io::Result<()>) -> io::Result<()> {
    // linux_dirent64 records are 8-byte aligned in the kernel's layout.
    #[repr(C, align(8))]
    struct Entries([u8; 8192]);
    let mut entries = Entries([0; 8192]);
    let entries = &mut entries.0;
    loop {
        // SAFETY: the buffer is writable for its length; the fd is open.
        let read = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                entries.as_mut_ptr(),
                entries.len(),
            )
        };
        let filled = match usize::try_from(read) {
            Ok(0) => return Ok(()),
            Ok(filled) => filled.min(entries.len()),
            Err(_) => return Err(io::Error::last_os_error()),
        };
        for name in dirent_names(&entries[..filled]) {
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            each(name)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_name_of_a_big_directory_once() {
        let dir = std::env::temp_dir().join(format!("cnetstat-dirs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // More entries than one 8 KiB buffer holds.
        for i in 0..1000 {
            std::fs::write(dir.join(format!("entry-{i:04}")), b"").unwrap();
        }
        let mut names = Vec::new();
        for_each_name(&File::open(&dir).unwrap(), |name| {
            names.push(name.to_str().unwrap().to_owned());
            Ok(())
        })
        .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        names.sort();
        let expected: Vec<String> = (0..1000).map(|i| format!("entry-{i:04}")).collect();
        assert_eq!(names, expected);
    }
}
