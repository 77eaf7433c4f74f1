//! Results too large to hold as frames, spilled to Arrow IPC files under
//! `<data>/results/<tenant>/`, and read back through a plan handle.
//!
//! A file lives as long as some handle's plan reads it: every entry whose
//! plan scans a result file holds its [`ResultFile`] (the core attaches it
//! when the plan is kept, so handles derived from the result hold it too),
//! and the file is deleted when the last of them goes. A process that
//! dies leaves no handles but may leave files: each file's name carries
//! its process id, and a new core removes those of processes that are
//! gone (not those of a live server sharing the data directory).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use polaroid_handles::Namespace;

use crate::error::CoreError;
use crate::tables::tenant_dir;

/// Where spilled results live, under the data directory.
pub(crate) const RESULTS_DIR: &str = "results";

/// One spilled result; dropping the last holder deletes the file.
#[derive(Debug)]
pub struct ResultFile {
    path: PathBuf,
}

impl ResultFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ResultFile {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => tracing::debug!(path = %self.path.display(), "result file removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {},
            Err(e) => tracing::warn!(path = %self.path.display(), "result file not removed: {e}"),
        }
    }
}

/// The live result files, by canonical path.
pub(crate) struct ResultFiles {
    root: PathBuf,
    live: Mutex<HashMap<PathBuf, Weak<ResultFile>>>,
    next: AtomicU64,
}

impl ResultFiles {
    /// Result files under `data_dir` (canonical); those left by processes
    /// that are gone are removed.
    pub(crate) fn new(data_dir: &Path) -> Self {
        let root = data_dir.join(RESULTS_DIR);
        remove_orphans(&root);
        Self { root, live: Mutex::new(HashMap::new()), next: AtomicU64::new(0) }
    }

    /// A new, empty result file of `ns`'s, registered.
    pub(crate) fn create(&self, ns: &Namespace) -> Result<(Arc<ResultFile>, std::fs::File), CoreError> {
        let dir = self.root.join(tenant_dir(ns));
        std::fs::create_dir_all(&dir).map_err(|e| CoreError::Internal(format!("{}: {e}", dir.display())))?;
        // Unique within the process; the directory starts empty.
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("result-{}-{n:08}.arrow", std::process::id()));
        let file = std::fs::File::create(&path).map_err(|e| CoreError::Internal(format!("{}: {e}", path.display())))?;
        let path = path.canonicalize().map_err(|e| CoreError::Internal(format!("{}: {e}", path.display())))?;
        let result = Arc::new(ResultFile { path: path.clone() });
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|_, weak| weak.strong_count() > 0);
        live.insert(path, Arc::downgrade(&result));
        Ok((result, file))
    }

    /// The live result files among `paths` (a plan's canonical sources), to
    /// be held by the handle that reads them.
    pub(crate) fn held_by(&self, paths: &[PathBuf]) -> Vec<Arc<dyn std::any::Any + Send + Sync>> {
        if !paths.iter().any(|p| p.starts_with(&self.root)) {
            return Vec::new();
        }
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        paths
            .iter()
            .filter_map(|p| live.get(p).and_then(Weak::upgrade))
            .map(|f| f as Arc<dyn std::any::Any + Send + Sync>)
            .collect()
    }
}

/// Remove `root/<tenant>/result-<pid>-<n>.arrow` files whose process is gone.
fn remove_orphans(root: &Path) {
    let Ok(tenants) = std::fs::read_dir(root) else { return };
    for tenant in tenants.flatten() {
        let Ok(files) = std::fs::read_dir(tenant.path()) else { continue };
        for file in files.flatten() {
            let name = file.file_name();
            let pid = name.to_str().and_then(|n| n.strip_prefix("result-")).and_then(|n| n.split('-').next());
            let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else { continue };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                match std::fs::remove_file(file.path()) {
                    Ok(()) => tracing::info!(path = %file.path().display(), "removed a result file left by process {pid}"),
                    Err(e) => tracing::warn!(path = %file.path().display(), "result file not removed: {e}"),
                }
            }
        }
    }
}
