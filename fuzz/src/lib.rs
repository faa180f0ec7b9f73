//! What several fuzz targets share. Targets are the files of
//! `fuzz_targets/` (run.sh runs each of them), so shared code lives here.

pub mod netlink;
