//! The running sources, by name. Each belongs to the namespace (tenant) that
//! started it and writes to that tenant's tables; other tenants neither see
//! nor stop it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use polaroid_core::tables::{tenant_dir, write_atomically};
use polaroid_core::{Core, CoreError, Namespace, LIVE_SOURCES_DIR};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::SourceError;
use crate::run::{self, Shared};
use crate::spec::SourceSpec;

/// Where each source records the gaps in its feed: `source, table,
/// gap_from, ts (when the feed was back), reason`.
pub const GAPS_TABLE: &str = "source_gaps";

/// Where a source is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    Connecting,
    Connected,
    /// Waiting before the next connect.
    Backoff,
    Stopped,
}

/// What `GET /sources` shows of a source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    pub name: String,
    pub table: String,
    pub url: String,
    pub state: SourceState,
    /// Rows appended to the table.
    pub rows: u64,
    pub batches: u64,
    pub messages: u64,
    /// Rows lost because the writer fell behind, or an append failed.
    pub dropped_rows: u64,
    pub decode_errors: u64,
    /// Kafka: messages read again whose rows were already in the table.
    pub skipped: u64,
    pub reconnects: u64,
    /// The wall clock minus the last row's time when it arrived.
    pub lag_ms: Option<f64>,
    pub last_error: Option<String>,
    #[serde(skip)]
    pub(crate) dropping: bool,
}

struct Running {
    ns: Namespace,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Kept under the data directory: started again after a restart, until stopped.
    kept: bool,
}

/// Whether a source outlives the server that started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Only while this server runs (a boot file's source).
    No,
    /// Write it down, then start it (started over HTTP or gRPC).
    Write,
    /// Written down already (started again by [`Sources::restore`]).
    Already,
}

/// The registry of running sources.
pub struct Sources {
    core: Arc<Core>,
    running: Mutex<HashMap<String, Running>>,
}

impl Sources {
    pub fn new(core: Arc<Core>) -> Arc<Self> {
        Arc::new(Self { core, running: Mutex::new(HashMap::new()) })
    }

    /// Start `spec` for `ns` for as long as this server runs (a boot
    /// file's sources). It connects in the background; its status says how
    /// it goes.
    pub fn start(&self, ns: &Namespace, spec: SourceSpec) -> Result<SourceStatus, SourceError> {
        self.launch(ns, spec, Keep::No)
    }

    /// Start `spec` for `ns` and keep it (a source started over HTTP or
    /// gRPC): it is written under the data directory first, and a server
    /// started again on that directory starts it again ([`Sources::restore`]),
    /// until it is stopped.
    pub fn start_kept(&self, ns: &Namespace, spec: SourceSpec) -> Result<SourceStatus, SourceError> {
        self.launch(ns, spec, Keep::Write)
    }

    /// Start every kept source of every tenant (at boot, after the boot
    /// file's). A kept source whose name a boot source took, or whose file
    /// no longer reads as a source, is logged and left; it is not lost.
    /// Returns how many started.
    pub fn restore(&self) -> usize {
        let mut started = 0;
        let tenants = self.core.tenants().namespaces();
        self.warn_of_unknown_tenants(&tenants);
        for ns in tenants {
            let dir = self.kept_dir(&ns);
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            for file in files {
                let spec = std::fs::read(&file)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| serde_json::from_slice::<SourceSpec>(&bytes).map_err(|e| e.to_string()));
                let outcome = spec.map_err(|e| e.to_string()).and_then(|spec| {
                    let name = spec.name.clone();
                    self.launch(&ns, spec, Keep::Already).map(|_| name).map_err(|e| e.to_string())
                });
                match outcome {
                    Ok(name) => {
                        tracing::info!(source = %name, "kept source started again");
                        started += 1;
                    },
                    Err(e) => tracing::warn!(file = %file.display(), "a kept source was not started: {e}"),
                }
            }
        }
        started
    }

    /// Kept sources of a tenant whose token the server no longer takes
    /// stay on disk, not started: say so, once, at boot.
    fn warn_of_unknown_tenants(&self, tenants: &[Namespace]) {
        let known: Vec<String> = tenants.iter().map(tenant_dir).collect();
        let root = self.core.data_dir().join(LIVE_SOURCES_DIR);
        let Ok(entries) = std::fs::read_dir(&root) else { return };
        for dir in entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()) {
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if known.contains(&name) {
                continue;
            }
            let kept = std::fs::read_dir(&dir).map_or(0, |e| e.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "json")).count());
            if kept > 0 {
                tracing::warn!(dir = %dir.display(), sources = kept,
                    "kept sources of a token the server no longer takes (--auth-token) are not started");
            }
        }
    }

    fn kept_dir(&self, ns: &Namespace) -> PathBuf {
        self.core.data_dir().join(LIVE_SOURCES_DIR).join(tenant_dir(ns))
    }

    fn launch(&self, ns: &Namespace, spec: SourceSpec, keep: Keep) -> Result<SourceStatus, SourceError> {
        spec.check()?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.contains_key(&spec.name) {
            return Err(SourceError::AlreadyRunning(spec.name));
        }
        if keep == Keep::Write {
            // Written before it starts: a source that runs is one a restart brings back.
            let dir = self.kept_dir(ns);
            std::fs::create_dir_all(&dir).map_err(|e| CoreError::Internal(format!("{}: {e}", dir.display())))?;
            let bytes = serde_json::to_vec_pretty(&spec).map_err(|e| CoreError::Internal(e.to_string()))?;
            write_atomically(&dir.join(format!("{}.json", spec.name)), &bytes)?;
        }
        // A table that exists takes the source's retention now; a new one
        // is created with it on the first batch.
        if let Some(retention) = spec.retention()? {
            if let Some(table) = self.core.tables().get(ns, &spec.table)? {
                let mut kept = table.def().retention;
                kept.ttl = if spec.ttl.is_some() { retention.ttl } else { kept.ttl };
                kept.max_bytes = if spec.max_table_bytes.is_some() { retention.max_bytes } else { kept.max_bytes };
                self.core.tables().set_retention(ns, &spec.table, kept)?;
            }
        }
        // Upsert keys likewise, when they differ from the table's.
        if let (Some(keys), Some(table)) = (&spec.upsert_keys, self.core.tables().get(ns, &spec.table)?) {
            if !table.def().upsert_keys.iter().map(|k| k.to_ascii_lowercase()).eq(keys.iter().map(|k| k.to_ascii_lowercase())) {
                self.core.tables().set_upsert_keys(ns, &spec.table, keys.clone())?;
            }
        }
        let status = SourceStatus {
            name: spec.name.clone(),
            table: spec.table.clone(),
            url: spec.url(),
            state: SourceState::Connecting,
            rows: 0,
            batches: 0,
            messages: 0,
            dropped_rows: 0,
            decode_errors: 0,
            skipped: 0,
            reconnects: 0,
            lag_ms: None,
            last_error: None,
            dropping: false,
        };
        let shared = Arc::new(Shared::new(&spec, status.clone()));
        let (stop, stopped) = watch::channel(false);
        let name = spec.name.clone();
        tracing::info!(source = %name, table = %spec.table, url = %status.url, "source starting");
        let task = tokio::spawn(run::run(self.core.clone(), ns.clone(), spec, shared.clone(), stopped));
        running.insert(name, Running { ns: ns.clone(), shared, stop, task, kept: keep != Keep::No });
        Ok(status)
    }

    /// Stop a source of `ns`: it appends what it has pending, then ends.
    pub async fn stop(&self, ns: &Namespace, name: &str) -> Result<SourceStatus, SourceError> {
        let found = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            match running.get(name) {
                Some(r) if r.ns == *ns => running.remove(name),
                _ => None,
            }
        };
        let Some(source) = found else { return Err(SourceError::NotFound(name.into())) };
        let _ = source.stop.send(true);
        let _ = source.task.await;
        if source.kept {
            // Stopped by its tenant: a restart does not bring it back.
            let file = self.kept_dir(ns).join(format!("{name}.json"));
            if let Err(e) = std::fs::remove_file(&file) {
                tracing::warn!(source = %name, file = %file.display(), "the stopped source's file stays: {e}");
            }
        }
        tracing::info!(source = %name, "source stopped");
        let status = source.shared.status.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(status)
    }

    /// The sources of `ns`, by name.
    pub fn list(&self, ns: &Namespace) -> Vec<SourceStatus> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<SourceStatus> = running
            .values()
            .filter(|r| r.ns == *ns)
            .map(|r| r.shared.status.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Stop every source (server shutdown), each appending what it has
    /// pending; kept sources stay kept.
    pub async fn stop_all(&self) {
        let all: Vec<(String, Running)> = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            running.drain().collect()
        };
        for (_, source) in &all {
            let _ = source.stop.send(true);
        }
        for (name, source) in all {
            let _ = source.task.await;
            tracing::info!(source = %name, "source stopped");
        }
    }
}
