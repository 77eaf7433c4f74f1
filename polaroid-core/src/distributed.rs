//! SQL that a distributed engine runs: DataFusion on a Ballista cluster.
//!
//! The core stays free of the engine. It resolves the tables a query names
//! to files in the data directory, hands them to a [`DistributedEngine`]
//! (the `polaroid-distributed` crate implements one), and keeps the
//! batches that come back as a handle: a frame, or past a threshold a plan
//! over a result file ([`crate::result_files`]). Executors are other processes,
//! often on other machines: they read files, never this process's memory,
//! so a table must be backed by files to be queried this way.
//!
//! A name in the query resolves, first match wins, to:
//! 1. a handle the request binds to that name (the `Sql` RPC's tables);
//! 2. one of the caller's tables (its log is written out to parts first,
//!    so the executors see every acknowledged row);
//! 3. a handle, by id or upload name;
//! 4. a file in the data directory (`FROM "ticks.parquet"`), through the
//!    same sandbox rule as every other door.
//!
//! A handle counts as backed by files when its plan is exactly a scan of
//! data-directory files (what `Scan` makes). Uploaded frames and derived
//! plans are refused with a message that says so: the engine would have
//! to be shipped this process's memory.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use polars::prelude::{DataFrame, SchemaRef};
use polars_plan::dsl::{DslPlan, FileScanDsl, ScanSources};
use tokio::sync::mpsc;

use crate::error::CoreError;
use crate::FileFormat;

/// How the files of one table are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Parquet,
    Csv { has_header: bool, separator: u8 },
    /// Arrow IPC files (what tables' parts are).
    Ipc,
}

/// One table a distributed query reads: its name in the query and its
/// files, canonical paths inside the data directory.
#[derive(Debug, Clone)]
pub struct FileTable {
    /// As the query names it (one identifier).
    pub name: String,
    pub kind: FileKind,
    /// Empty for a table with no rows yet; then `schema` says its columns.
    pub files: Vec<PathBuf>,
    /// The declared columns of a durable table (`None` for files: the
    /// engine reads their own schema).
    pub schema: Option<SchemaRef>,
}

/// The batches of a running query. The first frame carries the result's
/// schema (it may have no rows); the channel closes after the last.
pub type Batches = mpsc::Receiver<Result<DataFrame, CoreError>>;

/// A query being planned and submitted.
pub type Submission = Pin<Box<dyn Future<Output = Result<Batches, CoreError>> + Send>>;

/// An engine that runs SQL over files on other processes.
pub trait DistributedEngine: Send + Sync + 'static {
    /// Where queries go, for logs and messages (`standalone`,
    /// `df://host:port`).
    fn describe(&self) -> String;

    /// The tables `query` reads, one identifier each. Statements that are
    /// not queries (DDL such as `CREATE EXTERNAL TABLE`, `COPY ... TO`,
    /// `INSERT`) are refused here, before anything runs.
    fn table_names(&self, query: &str) -> Result<Vec<String>, CoreError>;

    /// Plan `query` over `tables` and submit it. Errors in the SQL come
    /// back here (INVALID_ARGUMENT), an unreachable cluster as UNAVAILABLE;
    /// errors while it runs come through the batches. Dropping the
    /// receiver stops reading the result.
    fn submit(&self, query: String, tables: Vec<FileTable>) -> Submission;
}

/// The table kind a file's extension gives (`.tsv`: tab-separated).
pub(crate) fn kind_of_path(path: &str) -> Result<FileKind, CoreError> {
    Ok(match FileFormat::from_path(path)? {
        FileFormat::Parquet => FileKind::Parquet,
        FileFormat::Ipc => FileKind::Ipc,
        FileFormat::Csv => {
            let tsv = Path::new(path).extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
            FileKind::Csv { has_header: true, separator: if tsv { b'\t' } else { b',' } }
        },
    })
}

/// The files a plan reads when it is exactly one scan (what `Scan`
/// stores); `None` for anything else.
pub(crate) fn scanned_files(plan: &DslPlan) -> Option<(FileKind, Vec<PathBuf>)> {
    let DslPlan::Scan { sources: ScanSources::Paths(paths), scan_type, .. } = plan else {
        return None;
    };
    let kind = match scan_type.as_ref() {
        FileScanDsl::Parquet { .. } => FileKind::Parquet,
        FileScanDsl::Ipc { .. } => FileKind::Ipc,
        FileScanDsl::Csv { options } => FileKind::Csv {
            has_header: options.has_header,
            separator: options.parse_options.separator,
        },
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    let files = paths.iter().map(|p| PathBuf::from(p.as_str())).collect();
    Some((kind, files))
}

/// Why a handle cannot be read by executors.
pub(crate) fn not_file_backed(name: &str) -> CoreError {
    CoreError::InvalidArgument(format!(
        "{name:?} is a handle held in this server's memory (an upload, a collected frame or a derived plan); \
         distributed queries read files every executor can open. Name a data-directory file or a table \
         instead, or write the rows to a table first, or run the query without distributed=true"
    ))
}

/// The engine a server runs distributed queries on.
pub(crate) type Engine = Arc<dyn DistributedEngine>;
