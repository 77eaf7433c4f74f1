//! The data-directory sandbox: the one place that decides which files a
//! request may read.
//!
//! Two entry points, one rule:
//! - [`Sandbox::resolve`] turns a client-supplied path (Scan, SQL table
//!   functions) into a canonical path inside the data directory.
//! - [`Sandbox::confine`] walks a whole plan before it is stored, whatever door
//!   it came through, and rewrites every file source to its canonical path.
//!   A source or sink that leaves the data directory refuses the plan, so no
//!   handle is made.
//!
//! The rule (the same as Scan's): a path is relative to the data directory,
//! has no `..`, and resolves (through symlinks) to a file inside it. An
//! absolute path is accepted only when it already names a file inside the
//! data directory (that is what Scan itself stores).
//!
//! The server's own storage is the exception: tables
//! (`<data>/tables/<tenant>/...`) are read by name and spilled results
//! (`<data>/results/<tenant>/...`) through their handles, so no client path
//! may lead there, and the absolute paths such a plan holds pass only in a
//! plan of the tenant that owns them.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use polars::prelude::{LazyFrame, PlRefPath, PolarsError, PolarsResult};
use polars::sql::SQLContext;
use polars_plan::dsl::{DslPlan, ScanSources, SinkType};
use polars_plan::plans::{DslFunction, FunctionIR};

use polaroid_handles::Namespace;

use crate::error::CoreError;
use crate::plan_walk::walk;
use crate::result_files::RESULTS_DIR;
use crate::tables::{tenant_dir, TABLES_DIR};

/// The server's own storage directories, and how a client reaches what is
/// in them instead of by path.
const STORAGE: &[(&str, &str)] = &[
    (TABLES_DIR, "table storage; read a table by its name (FROM trades), not by its files"),
    (RESULTS_DIR, "result storage; read a result through its handle"),
    (crate::LIVE_SOURCES_DIR, "live source storage; list sources over /sources"),
];

/// The data directory, canonical, and the rule for paths inside it.
#[derive(Debug, Clone)]
pub(crate) struct Sandbox {
    data_dir: Arc<Path>,
}

impl Sandbox {
    /// `data_dir` must exist; it is canonicalized once here.
    pub(crate) fn new(data_dir: &Path) -> std::io::Result<Self> {
        Ok(Self { data_dir: data_dir.canonicalize()?.into() })
    }

    /// Resolve a client-supplied relative path to a canonical file inside the
    /// data directory.
    ///
    /// Refused with PERMISSION_DENIED: absolute paths, any `..`, and anything
    /// that resolves (through symlinks) outside the directory.
    /// The canonical data directory.
    pub(crate) fn root(&self) -> &Path {
        &self.data_dir
    }

    pub(crate) fn resolve(&self, requested: &str) -> Result<PathBuf, CoreError> {
        if requested.is_empty() {
            return Err(CoreError::InvalidArgument("path is empty".into()));
        }
        let path = Path::new(requested);
        if path.is_absolute() {
            return Err(CoreError::PermissionDenied(format!(
                "{requested:?} is an absolute path; paths are relative to the server's data directory"
            )));
        }
        let canonical = self.canonical_file(requested, &self.data_dir.join(path))?;
        match self.storage_of(&canonical) {
            Some(how) => Err(in_storage(requested, how)),
            None => Ok(canonical),
        }
    }

    /// The files a Scan names: one file, a directory (every non-empty file
    /// under it, at any depth) or a glob pattern (`days/*.parquet`,
    /// `**/*.csv`), each checked as [`Sandbox::resolve`] checks a path, in
    /// path order. A pattern or directory never matches the server's own
    /// storage. Returns the files and whether `requested` was a directory.
    pub(crate) fn resolve_files(&self, requested: &str) -> Result<(Vec<PathBuf>, bool), CoreError> {
        if requested.is_empty() {
            return Err(CoreError::InvalidArgument("path is empty".into()));
        }
        if !requested.contains(['*', '?', '[']) {
            let joined = self.data_dir.join(requested);
            if Path::new(requested).is_relative() && !requested.split('/').any(|c| c == "..") && joined.is_dir() {
                let dir = self.resolve_dir(requested, &joined)?;
                let mut files = Vec::new();
                self.files_under(&dir, &mut files)?;
                return self.matched(requested, files).map(|files| (files, true));
            }
            return Ok((vec![self.resolve(requested)?], false));
        }
        if Path::new(requested).is_absolute() || requested.split('/').any(|c| c == "..") {
            return Err(CoreError::PermissionDenied(format!(
                "{requested:?}: patterns are relative to the server's data directory and may not use '..'"
            )));
        }
        let root = glob::Pattern::escape(&self.data_dir.to_string_lossy());
        let matches = glob::glob(&format!("{root}/{requested}"))
            .map_err(|e| CoreError::InvalidArgument(format!("{requested:?} is not a valid glob pattern: {}", e.msg)))?;
        let mut files = Vec::new();
        for found in matches {
            let found = found.map_err(|e| CoreError::InvalidArgument(format!("cannot read {requested:?}: {e}")))?;
            let Ok(canonical) = found.canonicalize() else { continue };
            if canonical.is_file() && canonical.starts_with(&self.data_dir) && self.storage_of(&canonical).is_none() {
                files.push(canonical);
            }
        }
        files.sort();
        files.dedup();
        self.matched(requested, files).map(|files| (files, false))
    }

    fn resolve_dir(&self, requested: &str, joined: &Path) -> Result<PathBuf, CoreError> {
        let canonical = joined
            .canonicalize()
            .map_err(|e| CoreError::InvalidArgument(format!("cannot open {requested:?}: {e}")))?;
        if !canonical.starts_with(&self.data_dir) {
            return Err(CoreError::PermissionDenied(format!(
                "{requested:?} resolves outside the server's data directory"
            )));
        }
        match self.storage_of(&canonical) {
            Some(how) => Err(in_storage(requested, how)),
            None => Ok(canonical),
        }
    }

    /// Every non-empty file under `dir` (symlinks followed only inside the
    /// data directory), skipping the server's storage.
    fn files_under(&self, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CoreError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| CoreError::InvalidArgument(format!("cannot list {}: {e}", dir.display())))?;
        for entry in entries.flatten() {
            let Ok(canonical) = entry.path().canonicalize() else { continue };
            if !canonical.starts_with(&self.data_dir) || self.storage_of(&canonical).is_some() {
                continue;
            }
            if canonical.is_dir() {
                // A symlink back up the tree would loop: only descend below `dir`.
                if canonical.starts_with(dir) && canonical != dir {
                    self.files_under(&canonical, out)?;
                }
            } else if canonical.metadata().is_ok_and(|m| m.len() > 0) {
                out.push(canonical);
            }
        }
        out.sort();
        out.dedup();
        Ok(())
    }

    fn matched(&self, requested: &str, files: Vec<PathBuf>) -> Result<Vec<PathBuf>, CoreError> {
        if files.is_empty() {
            return Err(CoreError::NotFound(format!("no file matches {requested:?} in the server's data directory")));
        }
        Ok(files)
    }

    /// How to reach a file of the server's storage, if `canonical` is one.
    fn storage_of(&self, canonical: &Path) -> Option<&'static str> {
        STORAGE.iter().find(|(dir, _)| canonical.starts_with(self.data_dir.join(dir))).map(|(_, how)| *how)
    }

    /// Check the canonical form of `path` (already joined to the data
    /// directory if it was relative).
    fn canonical_file(&self, requested: &str, path: &Path) -> Result<PathBuf, CoreError> {
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(CoreError::PermissionDenied(format!(
                "{requested:?} uses '..'; paths must stay inside the server's data directory"
            )));
        }
        let canonical = path.canonicalize().map_err(|e| match e.kind() {
            ErrorKind::NotFound => {
                CoreError::NotFound(format!("no file {requested:?} in the server's data directory"))
            },
            ErrorKind::PermissionDenied => CoreError::PermissionDenied(format!("cannot open {requested:?}: {e}")),
            _ => CoreError::InvalidArgument(format!("cannot open {requested:?}: {e}")),
        })?;
        if !canonical.starts_with(&self.data_dir) {
            return Err(CoreError::PermissionDenied(format!(
                "{requested:?} resolves outside the server's data directory"
            )));
        }
        if !canonical.is_file() {
            return Err(CoreError::InvalidArgument(format!("{requested:?} is not a file")));
        }
        Ok(canonical)
    }

    /// A path as a plan carries it: relative (to the data directory) or an
    /// absolute path that is already inside it; inside the server's storage
    /// only in the tenant's own directories.
    fn resolve_plan_path(&self, requested: &str, tenant: &str) -> Result<PathBuf, CoreError> {
        let path = Path::new(requested);
        if !path.is_absolute() {
            return self.resolve(requested);
        }
        if !path.starts_with(&self.data_dir) {
            return Err(CoreError::PermissionDenied(format!(
                "{requested:?} is outside the server's data directory; paths are relative to it"
            )));
        }
        // The tenant's own table parts pass as they are: only the server
        // writes there (no symlink, no `..` it did not put), and a query
        // of a long table names thousands of them; resolving each was a
        // system call per part per query, and a part a time filter skips
        // need not even exist any more.
        let own_tables = self.data_dir.join(TABLES_DIR).join(tenant);
        if let Ok(inside) = path.strip_prefix(&own_tables) {
            if inside.components().all(|c| matches!(c, Component::Normal(_))) && inside.components().count() > 1 {
                return Ok(path.to_path_buf());
            }
        }
        let canonical = self.canonical_file(requested, path)?;
        if let Some(how) = self.storage_of(&canonical) {
            let owned = STORAGE.iter().any(|(dir, _)| canonical.starts_with(self.data_dir.join(dir).join(tenant)));
            if !owned {
                return Err(in_storage(requested, how));
            }
        }
        Ok(canonical)
    }

    /// A SQL context whose table functions (`read_parquet('t.parquet')`, ...)
    /// open files through [`Sandbox::resolve`], before polars reads anything.
    ///
    /// The refusal itself is kept in the returned slot, so the caller reports
    /// it with its own code rather than as a polars error.
    pub(crate) fn sql_context(&self) -> (SQLContext, RefusalSlot) {
        let slot = RefusalSlot::default();
        let (sandbox, refusals) = (self.clone(), slot.clone());
        let resolver: Arc<dyn Fn(&str) -> PolarsResult<PlRefPath> + Send + Sync> = Arc::new(move |path: &str| match sandbox.resolve(path) {
            Ok(canonical) => Ok(PlRefPath::new(canonical.to_string_lossy().as_ref())),
            Err(refusal) => {
                let message = refusal.to_string();
                refusals.keep(refusal);
                Err(PolarsError::ComputeError(message.into()))
            },
        });
        (SQLContext::new().with_table_path_resolver(resolver), slot)
    }

    /// Walk `lf` and everything it reads, before it is stored or run.
    ///
    /// Every file source must resolve inside the data directory; it is
    /// rewritten to its canonical path (with globbing off, so the path names
    /// exactly one file). File sinks and open file descriptors are refused.
    /// Subplans inside expressions (SQL `IN (SELECT ...)`, scalar subqueries)
    /// are walked too, and any cached IR is dropped so what runs is what was
    /// checked.
    /// Returns the confined plan and the canonical files it reads.
    pub(crate) fn confine_reading(&self, lf: LazyFrame, ns: &Namespace) -> Result<(LazyFrame, Vec<PathBuf>), CoreError> {
        let opt_state = lf.get_current_optimizations();
        let mut plan = lf.logical_plan;
        let tenant = tenant_dir(ns);
        let mut read = Vec::new();
        walk(&mut plan, &mut |node: &mut DslPlan| self.check_node(node, &tenant, &mut read))?;
        Ok((LazyFrame::from_logical_plan(plan, opt_state), read))
    }

    /// What the walk does at each node: confine sources, refuse sinks.
    fn check_node(&self, node: &mut DslPlan, tenant: &str, read: &mut Vec<PathBuf>) -> Result<(), CoreError> {
        match node {
            DslPlan::Scan { sources, unified_scan_args, cached_ir, .. } => {
                if unified_scan_args.deletion_files.is_some() {
                    return Err(CoreError::PermissionDenied(
                        "scans with deletion files are not supported by this server".into(),
                    ));
                }
                *sources = self.confine_sources(sources, tenant, read)?;
                unified_scan_args.glob = false;
                // The cached conversion may hold the unchecked paths.
                *cached_ir = Default::default();
            },
            DslPlan::MapFunction { function: DslFunction::FunctionIR(FunctionIR::FastCount { sources, .. }), .. } => {
                *sources = self.confine_sources(sources, tenant, read)?;
            },
            DslPlan::Sink { payload, .. } => match payload {
                SinkType::Memory | SinkType::Callback(_) => {},
                SinkType::File(_) | SinkType::Partitioned(_) | SinkType::Iceberg(_) => {
                    return Err(CoreError::PermissionDenied(
                        "plans may not write files on this server (a file sink was found)".into(),
                    ))
                },
            },
            _ => {},
        }
        Ok(())
    }

    fn confine_sources(&self, sources: &ScanSources, tenant: &str, read: &mut Vec<PathBuf>) -> Result<ScanSources, CoreError> {
        match sources {
            ScanSources::Paths(paths) => {
                let mut confined = Vec::with_capacity(paths.len());
                for path in paths.iter() {
                    let canonical = self.resolve_plan_path(path.as_str(), tenant)?;
                    confined.push(PlRefPath::new(canonical.to_string_lossy().as_ref()));
                    read.push(canonical);
                }
                Ok(ScanSources::Paths(confined.into()))
            },
            ScanSources::Buffers(_) => Ok(sources.clone()),
            ScanSources::Files(_) => Err(CoreError::PermissionDenied(
                "plans may not read open file handles on this server; name a file in the data directory".into(),
            )),
        }
    }
}

/// Where the SQL resolver keeps why it refused a path (polars only carries
/// a message, and the refusal must keep its PERMISSION_DENIED / NOT_FOUND).
#[derive(Clone, Default)]
pub(crate) struct RefusalSlot(Arc<Mutex<Option<CoreError>>>);

impl RefusalSlot {
    fn keep(&self, refusal: CoreError) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(refusal);
    }

    /// The refusal, if the resolver made one; else `err` as it is.
    pub(crate) fn explain(&self, err: PolarsError) -> CoreError {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.take().unwrap_or(CoreError::Polars(err))
    }
}

/// A path into the server's storage, which only its owner's plans reach
/// (the refusal does not say whether the file exists, or whose it is).
fn in_storage(requested: &str, how: &str) -> CoreError {
    CoreError::PermissionDenied(format!("{requested:?} is inside the server's {how}"))
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;
    use polars_plan::dsl::{Expr, FileWriteFormat, SinkDestination, SinkTarget, SpecialEq, UnifiedSinkArgs};

    use super::*;

    struct Dirs {
        data: tempfile::TempDir,
        outside: tempfile::TempDir,
        sandbox: Sandbox,
    }

    fn dirs() -> Dirs {
        let data = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let mut df = df!("a" => [1i64, 2, 3]).unwrap();
        for dir in [data.path(), outside.path()] {
            let file = std::fs::File::create(dir.join("t.ipc")).unwrap();
            IpcWriter::new(file).finish(&mut df).unwrap();
        }
        let sandbox = Sandbox::new(data.path()).unwrap();
        Dirs { data, outside, sandbox }
    }

    impl Dirs {
        /// Confined for the anonymous tenant.
        fn confine(&self, lf: LazyFrame) -> Result<LazyFrame, CoreError> {
            self.sandbox.confine_reading(lf, &Namespace::anonymous()).map(|(lf, _)| lf)
        }
    }

    fn scan(path: impl AsRef<str>) -> LazyFrame {
        LazyFrame::scan_ipc(PlRefPath::new(path.as_ref()), Default::default(), Default::default()).unwrap()
    }

    fn refusal(result: Result<LazyFrame, CoreError>) -> String {
        match result {
            Err(CoreError::PermissionDenied(m)) => m,
            Err(other) => panic!("expected PERMISSION_DENIED, got {other}"),
            Ok(lf) => panic!("expected a refusal, the plan passed:\n{}", lf.describe_plan().unwrap()),
        }
    }

    #[test]
    fn relative_sources_are_rewritten_to_their_canonical_path_and_run() {
        let d = dirs();
        let confined = d.confine(scan("t.ipc").filter(col("a").gt(lit(1)))).unwrap();
        let plan = confined.describe_plan().unwrap();
        let canonical = d.data.path().canonicalize().unwrap().join("t.ipc");
        assert!(plan.contains(&canonical.display().to_string()), "{plan}");
        let out = confined.collect().unwrap();
        assert_eq!(out.column("a").unwrap().i64().unwrap().to_vec(), [Some(2), Some(3)]);
    }

    #[test]
    fn sources_outside_the_data_directory_are_refused_anywhere_in_the_plan() {
        let d = dirs();
        let outside = d.outside.path().join("t.ipc").display().to_string();
        // A plain scan, and the same source under a join, a union and a subplan.
        assert!(refusal(d.confine(scan(&outside))).contains("outside the server's data directory"));
        let joined = scan("t.ipc").join(scan(&outside), [col("a")], [col("a")], JoinArgs::new(JoinType::Inner));
        refusal(d.confine(joined));
        let union = concat([scan("t.ipc"), scan(&outside)], UnionArgs::default()).unwrap();
        refusal(d.confine(union));
        let sub = Expr::SubPlan(SpecialEq::new(Arc::new(scan(&outside).logical_plan)), vec![]);
        refusal(d.confine(scan("t.ipc").filter(col("a").is_in(sub, false))));
        assert!(refusal(d.confine(scan("../t.ipc"))).contains("uses '..'"));
    }

    #[test]
    fn a_symlink_out_of_the_data_directory_is_refused() {
        let d = dirs();
        std::os::unix::fs::symlink(d.outside.path().join("t.ipc"), d.data.path().join("link.ipc")).unwrap();
        assert!(refusal(d.confine(scan("link.ipc"))).contains("resolves outside"));
    }

    #[test]
    fn table_files_are_reached_only_through_their_owners_plans() {
        let d = dirs();
        let mine = d.data.path().join("tables/default/trades");
        let theirs = d.data.path().join("tables").join(tenant_dir(&Namespace::new("other-token"))).join("trades");
        for dir in [&mine, &theirs] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::copy(d.data.path().join("t.ipc"), dir.join("part-1.arrow")).unwrap();
        }
        let absolute = |dir: &std::path::Path| dir.canonicalize().unwrap().join("part-1.arrow").display().to_string();
        // A table's own plan (absolute paths to its parts) passes for its owner...
        let rows = d.confine(scan(absolute(&mine))).unwrap().collect().unwrap().height();
        assert_eq!(rows, 3);
        // ...and for no one else, whoever wrote the plan.
        let other = d.sandbox.confine_reading(scan(absolute(&mine)), &Namespace::new("other-token")).map(|(lf, _)| lf);
        assert!(refusal(other).contains("table storage; read a table by its name"));
        assert!(refusal(d.confine(scan(absolute(&theirs)))).contains("table storage"));
        // Own parts pass by their names alone, so `..` through them is refused.
        let theirs_by_mine = format!("{}/../../{}/trades/part-1.arrow", absolute(&mine), tenant_dir(&Namespace::new("other-token")));
        assert!(refusal(d.confine(scan(theirs_by_mine))).contains("uses '..'"));
        // Client paths never lead there: relative, or through a symlink.
        assert!(refusal(d.confine(scan("tables/default/trades/part-1.arrow"))).contains("table storage"));
        std::os::unix::fs::symlink(theirs.join("part-1.arrow"), d.data.path().join("peek.arrow")).unwrap();
        assert!(refusal(d.confine(scan("peek.arrow"))).contains("table storage"));
        assert!(matches!(d.sandbox.resolve("tables/default/trades/part-1.arrow"), Err(CoreError::PermissionDenied(_))));
    }

    #[test]
    fn file_sinks_are_refused() {
        let d = dirs();
        let target = SinkDestination::File { target: SinkTarget::Path(PlRefPath::new("out.ipc")) };
        let sink = scan("t.ipc").sink(target, FileWriteFormat::Ipc(Default::default()), UnifiedSinkArgs::default());
        assert!(refusal(d.confine(sink.unwrap())).contains("may not write files"));
    }

    #[test]
    fn the_sql_resolver_refuses_before_polars_opens_the_file() {
        let d = dirs();
        let (mut ctx, refusals) = d.sandbox.sql_context();
        let outside = d.outside.path().join("t.ipc").display().to_string();
        let Err(err) = ctx.execute(&format!("SELECT a FROM read_ipc('{outside}') ORDER BY a")) else {
            panic!("a table function outside the data directory was planned");
        };
        match refusals.explain(err) {
            CoreError::PermissionDenied(m) => assert!(m.contains("is an absolute path"), "{m}"),
            other => panic!("expected PERMISSION_DENIED, got {other}"),
        }
        let lf = ctx.execute("SELECT a FROM read_ipc('t.ipc') ORDER BY a DESC").unwrap();
        let out = d.confine(lf).unwrap().collect().unwrap();
        assert_eq!(out.column("a").unwrap().i64().unwrap().to_vec(), [Some(3), Some(2), Some(1)]);
    }
}
