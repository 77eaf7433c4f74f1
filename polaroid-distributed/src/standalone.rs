//! The standalone cluster: a Ballista scheduler and one executor inside this
//! process, with the executor told at once when there is something to do.
//!
//! Ballista's own `new_standalone_scheduler`/`new_standalone_executor` leave
//! the executor to find out by polling: a finished task's status waits for
//! the next poll (every 50 ms when idle), and so do the tasks of the stage it
//! unblocks. A three-stage GROUP BY of 1,000 rows spent ~6 ms running and
//! ~300 ms waiting. Here the executor's poll loop is woken:
//! - by the scheduler's `on_work_available` hook (a job submitted);
//! - when a task ends (its stage executor dropped, which Ballista does after
//!   queueing the task's status for the next poll), and then again after
//!   growing pauses ([`pace`]): under adaptive planning, Ballista's default,
//!   the next stage is made while the scheduler digests that status, after
//!   the poll that carried it, and no hook announces it.
//!
//! Both servers accept connections with Nagle's algorithm off (tonic only
//! sets it on ports it binds itself); a task's definition otherwise waited
//! ~40 ms for the executor's delayed ACK.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::error::BallistaError;
use ballista_core::extension::SessionConfigExt;
use ballista_core::ids::new_instance_id;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::scheduler_grpc_server::SchedulerGrpcServer;
use ballista_core::serde::protobuf::{ExecutorRegistration, ShuffleWritePartition, TaskColumnStats};
use ballista_core::serde::protobuf::{RuntimeStatsReport, WindowStateReport};
use ballista_core::serde::scheduler::{ExecutorOperatingSystemSpecification, ExecutorSpecification};
use ballista_core::serde::BallistaCodec;
use ballista_core::utils::{create_grpc_server, default_config_producer, default_session_builder, GrpcServerConfig};
use ballista_core::{JobId, RuntimeProducer, BALLISTA_PROTOCOL_VERSION};
use ballista_executor::execution_engine::{DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor};
use ballista_executor::executor::Executor;
use ballista_executor::flight_service::BallistaFlightService;
use ballista_executor::health::ExecutorHealth;
use ballista_executor::metrics::LoggingMetricsCollector;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{OnWorkAvailableFn, SchedulerConfig};
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion::execution::context::TaskContext;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Channel;

/// A running standalone cluster: where its scheduler listens, and the
/// directory its executor writes shuffle files to (removed with it).
pub(crate) struct StandaloneCluster {
    pub(crate) scheduler: SocketAddr,
    pub(crate) cores: usize,
    _work_dir: TempDir,
}

/// Start a scheduler and one executor with `cores` task slots on loopback
/// ports the OS picks.
pub(crate) async fn start(cores: usize) -> Result<StandaloneCluster, BallistaError> {
    // `wake` wakes the executor's poll loop; `task_ended` starts the pacer.
    let wake = Arc::new(Notify::new());
    let task_ended = Arc::new(Notify::new());
    tokio::spawn(pace(task_ended.clone(), wake.clone()));
    let scheduler = start_scheduler(wake.clone()).await?;
    let client = SchedulerGrpcClient::connect(format!("http://{scheduler}"))
        .await
        .map_err(|e| BallistaError::General(format!("the executor cannot reach its scheduler at {scheduler}: {e}")))?;
    let work_dir = tempfile::Builder::new().prefix("polaroid-ballista-").tempdir()?;
    start_executor(client, cores, work_dir.path().to_string_lossy().into_owned(), wake, task_ended).await?;
    Ok(StandaloneCluster { scheduler, cores, _work_dir: work_dir })
}

async fn start_scheduler(wake: Arc<Notify>) -> Result<SocketAddr, BallistaError> {
    let on_work: OnWorkAvailableFn = Arc::new(move |_| wake.notify_one());
    let config = SchedulerConfig::default()
        .with_scheduler_policy(ballista_core::config::TaskSchedulingPolicy::PullStaged)
        .with_on_work_available(on_work);
    let cluster = BallistaCluster::new_memory("localhost:50050", Arc::new(default_session_builder), Arc::new(default_config_producer));
    let codec: BallistaCodec = BallistaCodec::default();
    let metrics = ballista_scheduler::metrics::default_metrics_collector()?;
    let mut server = SchedulerServer::new("localhost:50050".to_owned(), cluster, codec, Arc::new(config), metrics);
    server.init().await?;
    let max_message = default_config_producer().ballista_grpc_client_max_message_size();
    let service = SchedulerGrpcServer::new(server)
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
    let listener = TcpListener::bind("localhost:0").await?;
    let addr = listener.local_addr()?;
    let serve = create_grpc_server(&GrpcServerConfig::default())
        .add_service(service)
        .serve_with_incoming(no_delay(listener));
    spawn_logged("the standalone Ballista scheduler", serve);
    Ok(addr)
}

async fn start_executor(
    scheduler: SchedulerGrpcClient<Channel>,
    cores: usize,
    work_dir: String,
    wake: Arc<Notify>,
    task_ended: Arc<Notify>,
) -> Result<(), BallistaError> {
    // Shuffle files are fetched from this port by the stages that read them.
    let listener = TcpListener::bind("localhost:0").await?;
    let registration = ExecutorRegistration {
        id: new_instance_id(),
        host: Some("localhost".to_string()),
        port: u32::from(listener.local_addr()?.port()),
        // Only a push-scheduled executor serves this port; this one polls.
        grpc_port: 0,
        specification: Some(ExecutorSpecification::default().with_vcores(cores as u32).into()),
        os_info: Some(ExecutorOperatingSystemSpecification::default().into()),
        ballista_protocol_version: BALLISTA_PROTOCOL_VERSION,
    };
    let functions = SessionStateBuilder::new()
        .with_default_features()
        .with_scalar_functions(ballista_core::extension::ballista_scalar_functions())
        .with_aggregate_functions(ballista_core::extension::ballista_aggregate_functions())
        .with_window_functions(ballista_core::extension::ballista_window_functions())
        .build();
    let runtime = functions.runtime_env().clone();
    let runtime_producer: RuntimeProducer = Arc::new(move |_| Ok(runtime.clone()));
    let engine = WakeOnTaskEnd { inner: DefaultExecutionEngine::new(), task_ended };
    let executor = Arc::new(Executor::new(
        registration,
        &work_dir,
        runtime_producer,
        Arc::new(default_config_producer),
        Arc::new(BallistaFunctionRegistry::from(&functions)),
        Arc::new(LoggingMetricsCollector::default()),
        cores,
        Arc::new(engine),
    ));
    let max_message = default_config_producer().ballista_grpc_client_max_message_size();
    let flight = arrow_flight::flight_service_server::FlightServiceServer::new(BallistaFlightService::new(work_dir))
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
    let serve = create_grpc_server(&GrpcServerConfig::default())
        .add_service(flight)
        .serve_with_incoming(no_delay(listener));
    spawn_logged("the standalone Ballista executor's shuffle service", serve);
    let codec: BallistaCodec = BallistaCodec::default();
    let polls = ballista_executor::execution_loop::poll_loop(scheduler, executor, codec, Some(wake), None, ExecutorHealth::new());
    spawn_logged("the standalone Ballista executor's poll loop", polls);
    Ok(())
}

/// Run one of the cluster's parts in the background; each runs as long as
/// the server, so its ending is an error to log.
fn spawn_logged<E: fmt::Display>(what: &'static str, part: impl Future<Output = Result<(), E>> + Send + 'static) {
    tokio::spawn(async move {
        if let Err(e) = part.await {
            tracing::error!("{what} stopped: {e}");
        }
    });
}

/// Accepted connections with Nagle's algorithm off, as tonic sets when it binds
/// the port itself: otherwise a response written in two parts (a task's
/// definition, a shuffle file) waits ~40 ms for the peer's delayed ACK.
fn no_delay(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// The longest pause between the pacer's wakes: Ballista's own idle poll.
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

/// How long after a task's end the pacer keeps waking the loop: from then on
/// Ballista's loop polls once a second by itself (its idle poll when a wake
/// hook is wired), and new jobs come with the scheduler's hook.
const FOLLOW_UP: Duration = Duration::from_secs(1);

/// On each task's end, wake the poll loop at once (to report the status),
/// then after each of [`follow_up_pauses`]: the stage a status unblocks is
/// found by the first poll after the scheduler has digested it, usually a
/// millisecond or two later, and a slow digest still costs no more than
/// Ballista's 50 ms polling did. Another task's end starts over.
async fn pace(task_ended: Arc<Notify>, wake: Arc<Notify>) {
    loop {
        task_ended.notified().await;
        'follow_up: loop {
            wake.notify_one();
            for pause in follow_up_pauses() {
                tokio::select! {
                    () = task_ended.notified() => continue 'follow_up,
                    () = tokio::time::sleep(pause) => wake.notify_one(),
                }
            }
            break;
        }
    }
}

/// 1, 2, 4, ... ms, at most [`LONGEST_PAUSE`], until [`FOLLOW_UP`] is spent.
fn follow_up_pauses() -> impl Iterator<Item = Duration> {
    let mut pause = Duration::from_millis(1);
    let mut spent = Duration::ZERO;
    std::iter::from_fn(move || {
        if spent >= FOLLOW_UP {
            return None;
        }
        let this = pause;
        spent += this;
        pause = (pause * 2).min(LONGEST_PAUSE);
        Some(this)
    })
}

/// Ballista's execution engine, with each task's stage executor wrapped so
/// that the task's end is seen.
struct WakeOnTaskEnd {
    inner: DefaultExecutionEngine,
    task_ended: Arc<Notify>,
}

impl ExecutionEngine for WakeOnTaskEnd {
    fn create_query_stage_exec(
        &self,
        job_id: JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> datafusion::error::Result<Arc<dyn QueryStageExecutor>> {
        let inner =
            self.inner.create_query_stage_exec(job_id, stage_id, task_id, global_output_partition_ids, plan, work_dir, config)?;
        Ok(Arc::new(WakeOnDrop { inner, task_ended: self.task_ended.clone() }))
    }
}

/// A stage executor that signals the task's end when its last reference
/// goes. Ballista's task holds that reference until after it has queued the
/// task's status (and released its task slot), so the poll woken then
/// reports it. Should a later Ballista drop it earlier, the pacer's next wake
/// (a millisecond later) still does.
struct WakeOnDrop {
    inner: Arc<dyn QueryStageExecutor>,
    task_ended: Arc<Notify>,
}

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        // A permit is kept if the pacer is not waiting yet: no end is lost.
        self.task_ended.notify_one();
    }
}

impl fmt::Debug for WakeOnDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for WakeOnDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

#[async_trait::async_trait]
impl QueryStageExecutor for WakeOnDrop {
    async fn execute_query_stage(
        &self,
        task_id: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::error::Result<Vec<ShuffleWritePartition>> {
        self.inner.execute_query_stage(task_id, context).await
    }

    fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
        self.inner.collect_plan_metrics()
    }

    fn collect_runtime_stats_reports(&self) -> Vec<RuntimeStatsReport> {
        self.inner.collect_runtime_stats_reports()
    }

    fn collect_window_state_reports(&self) -> datafusion::error::Result<Vec<WindowStateReport>> {
        self.inner.collect_window_state_reports()
    }

    fn collect_column_stats(&self) -> Vec<TaskColumnStats> {
        self.inner.collect_column_stats()
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    /// A stage executor that has nothing to run.
    #[derive(Debug)]
    struct Idle;

    impl fmt::Display for Idle {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "idle")
        }
    }

    #[async_trait::async_trait]
    impl QueryStageExecutor for Idle {
        async fn execute_query_stage(
            &self,
            _task_id: usize,
            _context: Arc<TaskContext>,
        ) -> datafusion::error::Result<Vec<ShuffleWritePartition>> {
            Ok(Vec::new())
        }

        fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
            Vec::new()
        }
    }

    /// A task's end is signalled when the task lets go of its stage executor,
    /// not while anything still holds it (Ballista hands clones to its
    /// metrics collector and its abortable future), and the wake is kept for
    /// a loop that is not waiting yet.
    #[test]
    fn a_task_s_end_wakes_the_poll_loop_once_its_stage_executor_is_released() {
        let wake = Arc::new(Notify::new());
        let stage: Arc<dyn QueryStageExecutor> = Arc::new(WakeOnDrop { inner: Arc::new(Idle), task_ended: wake.clone() });
        let held_elsewhere = stage.clone();
        drop(stage);
        assert!(wake.notified().now_or_never().is_none(), "woken while a clone was still held");
        drop(held_elsewhere);
        assert!(wake.notified().now_or_never().is_some(), "not woken when the last clone went");
        assert!(wake.notified().now_or_never().is_none(), "one task's end is one wake");
    }

    /// The pacer's pauses double from a millisecond up to Ballista's 50 ms
    /// and end once a second is spent (Ballista's own idle poll then).
    #[test]
    fn the_pacer_s_pauses_double_up_to_50_ms_for_a_second() {
        let pauses: Vec<u128> = follow_up_pauses().map(|p| p.as_millis()).collect();
        assert_eq!(pauses[..8], [1, 2, 4, 8, 16, 32, 50, 50], "{pauses:?}");
        assert!(pauses.iter().all(|&p| p <= 50), "{pauses:?}");
        let total: u128 = pauses.iter().sum();
        assert!(total >= 1000 && total - pauses.last().unwrap() < 1000, "{pauses:?} spend {total} ms");
    }

    /// A task's end wakes the loop, and the pacer wakes it again without
    /// another one (the follow-up that finds the stage the status unblocked).
    #[tokio::test]
    async fn a_task_s_end_wakes_the_loop_and_then_again() {
        let (task_ended, wake) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        tokio::spawn(pace(task_ended.clone(), wake.clone()));
        let patience = Duration::from_secs(10);
        tokio::task::yield_now().await;
        assert!(wake.notified().now_or_never().is_none(), "woken before any task ended");
        task_ended.notify_one();
        tokio::time::timeout(patience, wake.notified()).await.expect("no wake after a task's end");
        tokio::time::timeout(patience, wake.notified()).await.expect("no follow-up wake");
    }
}
