//! `distributed=true`: SQL over data-directory files, planned by DataFusion
//! and run on a Ballista cluster.
//!
//! [`BallistaEngine`] implements polaroid-core's
//! [`DistributedEngine`](polaroid_core::distributed::DistributedEngine): the
//! core resolves the query's tables to files, this crate registers them as
//! listing tables every executor can open (the same paths: a shared data
//! directory), submits the query to the scheduler and hands the result's
//! batches back as polars frames, one at a time.
//!
//! - [`Cluster`]: a scheduler at `df://host:port`, or a standalone cluster
//!   (scheduler and executor inside this process, started on first use;
//!   `standalone` wires them so that no task waits for a poll).
//! - [`statements`]: the one statement a request may hold, refused unless it
//!   is a query (no `CREATE EXTERNAL TABLE`, no `COPY ... TO`).
//! - [`convert`]: Arrow record batches into polars frames.
//! - [`errors`]: DataFusion's and Ballista's errors in the core's terms.

pub mod convert;
pub mod errors;
mod standalone;
pub mod statements;

use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use datafusion::catalog::TableProvider;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::arrow::ArrowFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat as DfFileFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use datafusion::common::TableReference;
use futures::StreamExt;
use polaroid_core::distributed::{Batches, DistributedEngine, FileKind, FileTable, Submission};
use polaroid_core::CoreError;
use tokio::sync::{mpsc, OnceCell};

use crate::errors::to_core_error;

/// Result batches the engine may run ahead of the core, which stacks them.
const RESULT_WINDOW: usize = 4;

/// How long to wait for a scheduler to answer before calling it
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where distributed queries run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cluster {
    /// A scheduler and one executor inside this process, started on first
    /// use: `distributed=true` works with no setup.
    Standalone,
    /// A running `ballista-scheduler`, as `df://host:port`.
    Scheduler { host: String, port: u16 },
}

impl Cluster {
    /// `df://host:port` (port 50050 if left out), as Ballista writes it.
    pub fn parse(address: &str) -> Result<Self, CoreError> {
        let url = url::Url::parse(address.trim()).map_err(|e| {
            CoreError::InvalidArgument(format!("{address:?} is not a scheduler address (df://host:port): {e}"))
        })?;
        if url.scheme() != "df" {
            return Err(CoreError::InvalidArgument(format!(
                "{address:?}: a Ballista scheduler address starts with df:// (df://host:port)"
            )));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| CoreError::InvalidArgument(format!("{address:?} names no host (df://host:port)")))?;
        Ok(Self::Scheduler { host: host.to_string(), port: url.port().unwrap_or(50050) })
    }
}

impl std::fmt::Display for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Standalone => write!(f, "standalone"),
            Self::Scheduler { host, port } => write!(f, "df://{host}:{port}"),
        }
    }
}

/// The engine: one per server, shared by every request.
#[derive(Clone)]
pub struct BallistaEngine {
    inner: Arc<Inner>,
}

struct Inner {
    cluster: Cluster,
    /// The standalone cluster, once it is up.
    standalone: OnceCell<standalone::StandaloneCluster>,
}

impl BallistaEngine {
    pub fn new(cluster: Cluster) -> Self {
        Self { inner: Arc::new(Inner { cluster, standalone: OnceCell::new() }) }
    }

    pub fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    /// Run `query` over `tables` (what the core's resolution gives) and
    /// return its batches. The same as [`DistributedEngine::submit`].
    pub async fn run(&self, query: &str, tables: Vec<FileTable>) -> Result<Batches, CoreError> {
        let names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
        let (query, plain) = statements::with_plain_names(query, &names)?;
        let ctx = self.inner.session().await?;
        for table in tables {
            let provider = table_provider(&ctx, &table).await?;
            let name = plain.get(&table.name).cloned().unwrap_or(table.name);
            ctx.register_table(TableReference::bare(name), provider).map_err(to_core_error)?;
        }
        // A second line of defence: whatever the statement check let
        // through, DataFusion itself runs no DDL, DML or SET here.
        let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        let df = ctx.sql_with_options(&query, options).await.map_err(to_core_error)?;
        let mut stream = df.execute_stream().await.map_err(to_core_error)?;
        let schema = stream.schema();
        let (tx, rx) = mpsc::channel(RESULT_WINDOW);
        let first = convert::empty_frame(&schema);
        tokio::spawn(async move {
            // The schema first, so an empty result still has its columns.
            if tx.send(first).await.is_err() {
                return;
            }
            while let Some(batch) = stream.next().await {
                let frame = batch.map_err(to_core_error).and_then(|b| convert::to_frame(&b));
                let failed = frame.is_err();
                // The receiver went away (the client left): stop reading.
                if tx.send(frame).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(rx)
    }
}

impl Inner {
    /// A fresh session on the cluster: each query registers its own tables.
    async fn session(&self) -> Result<SessionContext, CoreError> {
        let (host, port, standalone) = match &self.cluster {
            Cluster::Scheduler { host, port } => (host.clone(), *port, None),
            Cluster::Standalone => {
                let standalone = self.standalone().await?;
                ("localhost".to_string(), standalone.scheduler.port(), Some(standalone))
            },
        };
        // Ballista connects lazily, deep inside the first execution; ask
        // first so an unreachable scheduler is a clear UNAVAILABLE.
        connect(&host, port).await?;
        let ctx = SessionContext::remote(&format!("df://{host}:{port}")).await.map_err(to_core_error)?;
        if let Some(standalone) = standalone {
            // Ballista shuffles into 16 partitions whatever the cluster; the
            // in-process executor runs `cores` tasks at a time, and each
            // further batch of a stage's tasks is another round trip to the
            // scheduler (a poll 50 ms apart, before `standalone` woke it).
            ctx.state_ref().write().config_mut().options_mut().execution.target_partitions = standalone.cores;
        }
        Ok(ctx)
    }

    async fn standalone(&self) -> Result<&standalone::StandaloneCluster, CoreError> {
        self
            .standalone
            .get_or_try_init(|| async {
                let cores = standalone_cores();
                let cluster = standalone::start(cores)
                    .await
                    .map_err(|e| CoreError::Internal(format!("the standalone Ballista cluster did not start: {e}")))?;
                tracing::info!(port = cluster.scheduler.port(), cores, "standalone Ballista cluster started");
                Ok::<_, CoreError>(cluster)
            })
            .await
    }
}

/// The task slots of the standalone cluster's one executor: this machine's cores.
fn standalone_cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A client of the scheduler at `host:port`, or UNAVAILABLE.
async fn connect(host: &str, port: u16) -> Result<SchedulerGrpcClient<tonic::transport::Channel>, CoreError> {
    let url = format!("http://{host}:{port}");
    let unavailable = |why: String| {
        CoreError::Unavailable(format!("the Ballista scheduler at df://{host}:{port} cannot be reached: {why}"))
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, SchedulerGrpcClient::connect(url)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(unavailable(errors::source_chain(&e))),
        Err(_) => Err(unavailable(format!("no answer in {CONNECT_TIMEOUT:?}"))),
    }
}

/// A listing table over the table's files (what executors read), or an
/// empty table of its declared columns when it has none yet.
async fn table_provider(ctx: &SessionContext, table: &FileTable) -> Result<Arc<dyn TableProvider>, CoreError> {
    if table.files.is_empty() {
        let schema = match &table.schema {
            Some(schema) => convert::arrow_schema(schema)?,
            None => return Err(CoreError::Internal(format!("{:?} has neither files nor columns", table.name))),
        };
        return Ok(Arc::new(EmptyTable::new(schema)));
    }
    let format: Arc<dyn DfFileFormat> = match table.kind {
        FileKind::Parquet => Arc::new(ParquetFormat::default()),
        FileKind::Ipc => Arc::new(ArrowFormat),
        FileKind::Csv { has_header, separator } => {
            Arc::new(CsvFormat::default().with_has_header(has_header).with_delimiter(separator))
        },
    };
    let urls = table
        .files
        .iter()
        .map(|path| ListingTableUrl::parse(path.to_string_lossy().as_ref()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(to_core_error)?;
    // Every file is named exactly, whatever its extension.
    let options = ListingOptions::new(format).with_file_extension("");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await
        .map_err(|e| {
            CoreError::FailedPrecondition(format!("the files of {:?} cannot be read: {}", table.name, errors::message(&e)))
        })?;
    Ok(Arc::new(ListingTable::try_new(config).map_err(to_core_error)?))
}

impl DistributedEngine for BallistaEngine {
    fn describe(&self) -> String {
        self.inner.cluster.to_string()
    }

    fn table_names(&self, query: &str) -> Result<Vec<String>, CoreError> {
        statements::table_names(query)
    }

    fn submit(&self, query: String, tables: Vec<FileTable>) -> Submission {
        let engine = self.clone();
        Box::pin(async move { engine.run(&query, tables).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A standalone session splits a stage into as many tasks as the
    /// in-process executor runs at once, not Ballista's 16 (each batch of
    /// tasks waits for the executor's next poll).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_standalone_session_shuffles_into_the_executor_s_task_slots() {
        let engine = BallistaEngine::new(Cluster::Standalone);
        let ctx = engine.inner.session().await.unwrap();
        assert_eq!(ctx.state().config().target_partitions(), standalone_cores());
    }
}
