//! `polaroid-server`: Polars over the network. With no flags it serves
//! gRPC and Arrow Flight on 127.0.0.1:50051 and the QuestDB-compatible HTTP
//! API on 127.0.0.1:9000 (ILP over TCP on 127.0.0.1:9009), over ./data, and
//! writes a sample dataset there.
//! One core (handles, tables, the sandbox) sits behind every door.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use polaroid_core::{memory_guard, Core, Namespace};
use polaroid_sources::{read_sources_file, Sources};
use polaroid_grpc::{sample, serve_core, ServerConfig, SlotConfig};
use tracing_subscriber::EnvFilter;

/// Results are encoded into fresh MiB-sized buffers for every message; glibc
/// malloc returns them to the OS and faults them back in each time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "polaroid-server", version, about = "Polars served over gRPC, Arrow Flight, QuestDB's HTTP API and PostgreSQL wire protocol: lazy queries on server-side DataFrame handles")]
struct Args {
    /// Address for gRPC (polaroid.v1 and Arrow Flight).
    #[arg(long, env = "POLAROID_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Address for the HTTP door (QuestDB's /exec, /exp, ... and /metrics); `off` to disable.
    #[arg(long, env = "POLAROID_HTTP_LISTEN", default_value = "127.0.0.1:9000")]
    http_listen: String,
    /// Address for InfluxDB line protocol over TCP (QuestDB's 9009); `off`
    /// to disable. Not opened when --auth-token is set: the protocol
    /// carries no credentials.
    #[arg(long, env = "POLAROID_ILP_LISTEN", default_value = "127.0.0.1:9009")]
    ilp_listen: String,
    /// Address for the PostgreSQL wire protocol (QuestDB's 8812: psql,
    /// psycopg, JDBC run QuestDB's SQL); `off` to disable. With
    /// --auth-token, the password is the token.
    #[arg(long, env = "POLAROID_PG_LISTEN", default_value = "127.0.0.1:8812")]
    pg_listen: String,
    /// Directory whose files clients may scan; created, with sample data, if missing.
    #[arg(long, env = "POLAROID_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Idle time after which an unused handle expires (e.g. 30m, 2h, 90s).
    #[arg(long, env = "POLAROID_HANDLE_TTL", default_value = "30m", value_parser = humantime::parse_duration)]
    handle_ttl: Duration,
    /// Memory budget for materialized frames held in handles (e.g. 4GiB, 512MiB).
    #[arg(long, env = "POLAROID_MEMORY_LIMIT", default_value = "4GiB")]
    memory_limit: bytesize::ByteSize,
    /// Resident memory past which the server stops its running queries
    /// (RESOURCE_EXHAUSTED) rather than let a runaway plan take the machine's
    /// memory, e.g. 16GiB. Default: 80% of the machine's memory; 0 turns it off.
    #[arg(long, env = "POLAROID_QUERY_MEMORY_LIMIT")]
    query_memory_limit: Option<bytesize::ByteSize>,
    /// Largest gRPC message accepted or sent (e.g. 2MiB).
    #[arg(long, env = "POLAROID_MAX_MESSAGE_SIZE", default_value = "2MiB")]
    max_message_size: bytesize::ByteSize,
    /// Largest single message an upload may send (Flight DoPut sends a
    /// record batch per message; split larger ones on the client).
    #[arg(long, env = "POLAROID_MAX_UPLOAD_MESSAGE", default_value = "64MiB")]
    max_upload_message: bytesize::ByteSize,
    /// Requests doing query work at once (default: twice the cores, at least 4).
    #[arg(long, env = "POLAROID_MAX_CONCURRENT_QUERIES")]
    max_concurrent_queries: Option<usize>,
    /// Requests that may wait for a query slot; more are refused (RESOURCE_EXHAUSTED).
    #[arg(long, env = "POLAROID_MAX_QUEUED_QUERIES", default_value_t = 256)]
    max_queued_queries: usize,
    /// How long a request waits for a query slot before it is refused.
    #[arg(long, env = "POLAROID_QUEUE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    queue_timeout: Duration,
    /// Require `authorization: Bearer <token>`; repeat (or comma-separate) for
    /// several tokens, each with its own handle namespace.
    #[arg(long, env = "POLAROID_AUTH_TOKEN", value_delimiter = ',', hide_env_values = true)]
    auth_token: Vec<String>,
    /// Live sources to start at boot: a TOML file of `[[source]]` tables
    /// (see the README). More can be started and stopped over HTTP /sources
    /// and gRPC; those are kept in the data directory and start again with
    /// the server until stopped.
    #[arg(long, env = "POLAROID_SOURCES")]
    sources: Option<PathBuf>,
    /// The Ballista scheduler that runs `distributed=true` queries
    /// (df://host:port). Without it, a standalone cluster (scheduler and
    /// executor inside this process) starts on the first such query.
    /// Executors must see the data directory at the same path.
    #[cfg(feature = "distributed")]
    #[arg(long, env = "POLAROID_BALLISTA")]
    ballista: Option<String>,
}

/// The stack of each runtime thread (workers and the blocking pool, where
/// plans are resolved and run). Polars' planner recurses over the plan and,
/// with less than [`recursive`]'s minimum left, maps a fresh 2 MiB segment
/// for the rest and unmaps it after: on tokio's 2 MiB threads a plan 200
/// operations deep did that at every schema resolution (a third of the
/// server's time deriving from it went to mmap, page faults and munmap).
/// Only the pages a thread touches are committed.
const THREAD_STACK: usize = 16 * 1024 * 1024;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    // Polars' planner recurses over the query plan and grows its stack
    // (stacker, through the `recursive` crate) when less than a minimum is
    // left. Its default, 128 KiB, is less than one round of a plan with many
    // joins takes between two such checks in a debug build (a query of
    // decorrelated subqueries overflowed a 2 MiB worker thread and aborted
    // the server); 1 MiB leaves room, and costs nothing until it is needed.
    recursive::set_minimum_stack_size(1024 * 1024);
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(THREAD_STACK).build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("the async runtime did not start: {e}");
            return ExitCode::FAILURE;
        },
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        },
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let max_message_size = usize::try_from(args.max_message_size.as_u64())?;
    if max_message_size < 64 * 1024 {
        return Err("--max-message-size must be at least 64KiB".into());
    }
    if args.max_upload_message.as_u64() < 64 * 1024 {
        return Err("--max-upload-message must be at least 64KiB".into());
    }
    let data_dir = args.data_dir.clone();
    let written = tokio::task::spawn_blocking(move || sample::ensure(&data_dir)).await??;
    for path in &written {
        tracing::info!(path = %path.display(), "wrote sample data");
    }
    let config = ServerConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        handle_ttl: args.handle_ttl,
        memory_limit: args.memory_limit.as_u64(),
        max_message_size,
        max_upload_message: usize::try_from(args.max_upload_message.as_u64())?,
        slots: SlotConfig {
            max_running: args.max_concurrent_queries.unwrap_or(SlotConfig::default().max_running).max(1),
            max_waiting: args.max_queued_queries,
            max_wait: args.queue_timeout,
        },
        auth_tokens: args.auth_token.into_iter().filter(|t| !t.is_empty()).collect(),
    };
    let core = Core::new(config.core()).map_err(|e| format!("data directory {}: {e}", config.data_dir.display()))?;
    let query_memory_limit = match args.query_memory_limit {
        Some(limit) => limit.as_u64(),
        None => memory_guard::total_memory().map_or(0, |total| total / 5 * 4),
    };
    if query_memory_limit > 0 && memory_guard::watch(query_memory_limit) {
        tracing::info!(bytes = query_memory_limit, "queries stop while resident memory is over this limit");
    }
    #[cfg(feature = "distributed")]
    {
        use polaroid_distributed::{BallistaEngine, Cluster};
        let cluster = match &args.ballista {
            Some(address) => Cluster::parse(address).map_err(|e| format!("--ballista: {e}"))?,
            None => Cluster::Standalone,
        };
        tracing::info!(%cluster, "distributed queries run on Ballista");
        core.set_distributed(std::sync::Arc::new(BallistaEngine::new(cluster)))?;
    }
    let sources = Sources::new(core.clone());
    if let Some(path) = &args.sources {
        if !config.auth_tokens.is_empty() {
            return Err("--sources writes to the tables of a server without tokens; with --auth-token, start sources over HTTP POST /sources with a token".into());
        }
        for spec in read_sources_file(path)? {
            sources.start(&Namespace::anonymous(), spec)?;
        }
    }
    // Sources started over HTTP or gRPC before the last stop, until stopped.
    let kept = sources.restore();
    if kept > 0 {
        tracing::info!(kept, "kept sources started again");
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    // One signal stops every door: each waits for its own copy.
    let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
    let stopped = |stop: &tokio::sync::broadcast::Sender<()>| {
        let mut rx = stop.subscribe();
        async move {
            let _ = rx.recv().await;
        }
    };
    let http = match door_listener(&args.http_listen, "--http-listen").await? {
        None => None,
        Some(listener) => Some(tokio::spawn(polaroid_http::serve(core.clone(), sources.clone(), listener, stopped(&stop)))),
    };
    let ilp = match args.ilp_listen.trim() {
        "off" | "" => None,
        address if !config.auth_tokens.is_empty() => {
            tracing::warn!(%address, "ILP/TCP door not opened: it carries no credentials and this server requires tokens (use HTTP /write)");
            None
        },
        _ => match door_listener(&args.ilp_listen, "--ilp-listen").await? {
            None => None,
            Some(listener) => Some(tokio::spawn(polaroid_http::serve_ilp_tcp(core.clone(), listener, stopped(&stop)))),
        },
    };
    let pg = match door_listener(&args.pg_listen, "--pg-listen").await? {
        None => None,
        Some(listener) => Some(tokio::spawn(polaroid_pgwire::serve(core.clone(), listener, stopped(&stop)))),
    };
    let grpc = serve_core(core, sources.clone(), &config, listener, stopped(&stop));
    tokio::pin!(grpc);
    let served = tokio::select! {
        served = &mut grpc => served,
        () = shutdown_signal() => {
            let _ = stop.send(());
            grpc.await
        },
    };
    // If gRPC stopped on its own (an error), the HTTP door stops too.
    let _ = stop.send(());
    served?;
    if let Some(http) = http {
        http.await??;
    }
    if let Some(ilp) = ilp {
        ilp.await??;
    }
    if let Some(pg) = pg {
        pg.await??;
    }
    // Each source appends what it has pending before the process ends.
    sources.stop_all().await;
    Ok(())
}

/// The listener of a door given by `option` (an address, or `off`).
async fn door_listener(address: &str, option: &str) -> Result<Option<tokio::net::TcpListener>, String> {
    match address.trim() {
        "off" | "" => Ok(None),
        address => tokio::net::TcpListener::bind(address)
            .await
            .map(Some)
            .map_err(|e| format!("cannot listen on {address} ({option}): {e}")),
    }
}

/// SIGINT or SIGTERM: stop accepting calls, let in-flight ones finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            },
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight calls");
}
