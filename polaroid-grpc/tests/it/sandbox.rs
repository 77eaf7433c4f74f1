//! No door reads outside the data directory: SQL table functions over the
//! native `Sql` RPC and over Flight (action and command descriptor), in every
//! position a table can take (FROM, subquery, join, CTE).
//! A refusal is PERMISSION_DENIED, says nothing of the file, and leaves no
//! handle; relative paths resolve in the data directory.

use std::collections::HashMap;
use std::path::Path;

use arrow_flight::{Action, FlightClient, FlightDescriptor};
use polaroid_grpc::proto::polaroid_client::PolaroidClient;
use polaroid_grpc::proto::{FetchRequest, ListRequest, SqlRequest};
use polaroid_grpc::ServerConfig;
use polars::prelude::*;
use tonic::transport::Channel;
use tonic::Code;

use crate::{assert_frames_close, fetch_all, TestServer};

/// The secret's header: no error message may echo it.
const SECRET_COLUMN: &str = "secret_column_name";

struct Fixture {
    data: tempfile::TempDir,
    outside: tempfile::TempDir,
}

impl Fixture {
    /// A data directory with the sample, a secret outside it, and a symlink
    /// from inside to the secret.
    fn new() -> Self {
        let data = tempfile::tempdir().unwrap();
        polaroid_grpc::sample::ensure(data.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.csv"), format!("{SECRET_COLUMN},b\n1,2\n")).unwrap();
        let mut df = df!(SECRET_COLUMN => [1i64, 2], "b" => [3i64, 4]).unwrap();
        ParquetWriter::new(std::fs::File::create(outside.path().join("secret.parquet")).unwrap())
            .finish(&mut df)
            .unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.csv"), data.path().join("link.csv")).unwrap();
        std::os::unix::fs::symlink(outside.path(), data.path().join("linkdir")).unwrap();
        Self { data, outside }
    }

    fn secret(&self, name: &str) -> String {
        self.outside.path().join(name).display().to_string()
    }

    /// Queries that each try to read outside the data directory, with what
    /// the refusal must say.
    fn escapes(&self) -> Vec<(String, &'static str)> {
        let (csv, parquet) = (self.secret("secret.csv"), self.secret("secret.parquet"));
        let rel = relative_to(self.data.path(), &self.outside.path().join("secret.csv"));
        vec![
            (format!("SELECT * FROM read_csv('{csv}')"), "is an absolute path"),
            (format!("SELECT * FROM read_parquet('{parquet}')"), "is an absolute path"),
            (format!("SELECT * FROM read_csv('{rel}')"), "uses '..'"),
            ("SELECT * FROM read_csv('link.csv')".into(), "resolves outside the server's data directory"),
            ("SELECT * FROM read_parquet('linkdir/secret.parquet')".into(), "resolves outside"),
            (format!("SELECT {SECRET_COLUMN} FROM read_csv('{csv}') ORDER BY 1"), "is an absolute path"),
            (
                format!("SELECT * FROM read_parquet('trades.parquet') WHERE size IN (SELECT b FROM read_csv('{csv}'))"),
                "is an absolute path",
            ),
            (
                format!(
                    "SELECT t.symbol FROM read_parquet('trades.parquet') t JOIN read_parquet('{parquet}') s ON t.size = s.b"
                ),
                "is an absolute path",
            ),
            (format!("WITH s AS (SELECT * FROM read_csv('{csv}')) SELECT * FROM s"), "is an absolute path"),
        ]
    }
}

/// `target` as a path relative to `from` (through `..`).
fn relative_to(from: &Path, target: &Path) -> String {
    let depth = from.components().count() - 1;
    format!("{}{}", "../".repeat(depth), target.strip_prefix("/").unwrap().display())
}

async fn handle_count(client: &mut PolaroidClient<Channel>) -> usize {
    client.list(ListRequest {}).await.unwrap().into_inner().handles.len()
}

fn sql(query: &str) -> SqlRequest {
    SqlRequest { query: query.into(), tables: HashMap::new(), distributed: false, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_table_functions_cannot_leave_the_data_directory() {
    let fixture = Fixture::new();
    let server = TestServer::start(ServerConfig { data_dir: fixture.data.path().to_path_buf(), ..Default::default() }).await;
    let mut client = server.client().await;
    let before = handle_count(&mut client).await;
    for (query, expected) in fixture.escapes() {
        let err = client.sql(sql(&query)).await.expect_err(&query);
        assert_eq!(err.code(), Code::PermissionDenied, "{query}: {}", err.message());
        assert!(err.message().contains(expected), "{query}: {}", err.message());
        assert!(!err.message().contains(SECRET_COLUMN), "{query} leaked the file: {}", err.message());
    }
    assert_eq!(handle_count(&mut client).await, before, "a refused query left a handle");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_statements_that_would_change_tables_are_refused_by_name() {
    // polars-sql runs them on the query's own context and answers as if
    // they were done: CREATE TABLE answered "CREATE TABLE x" and kept nothing.
    let fixture = Fixture::new();
    let server = TestServer::start(ServerConfig { data_dir: fixture.data.path().to_path_buf(), ..Default::default() }).await;
    let mut client = server.client().await;
    let before = handle_count(&mut client).await;
    let csv = fixture.outside.path().join("secret.csv").display().to_string();
    for query in [
        format!("CREATE TABLE stolen AS SELECT * FROM read_csv('{csv}')"),
        "create table t AS SELECT * FROM read_parquet('trades.parquet')".into(),
        "DROP TABLE t".into(),
        "  TRUNCATE TABLE t".into(),
        "INSERT INTO t VALUES (1)".into(),
    ] {
        let err = client.sql(sql(&query)).await.expect_err(&query);
        assert_eq!(err.code(), Code::InvalidArgument, "{query}: {}", err.message());
        assert!(err.message().contains("is not run by this SQL, which reads"), "{query}: {}", err.message());
        assert!(!err.message().contains(SECRET_COLUMN), "{query} leaked the file: {}", err.message());
    }
    assert_eq!(handle_count(&mut client).await, before, "a refused statement left a handle");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_table_functions_read_relative_paths_in_the_data_directory() {
    let fixture = Fixture::new();
    let server = TestServer::start(ServerConfig { data_dir: fixture.data.path().to_path_buf(), ..Default::default() }).await;
    let mut client = server.client().await;
    let query = "SELECT symbol, COUNT(*) AS n, SUM(size) AS volume FROM read_parquet('trades.parquet') \
                 WHERE size >= 100 GROUP BY symbol ORDER BY symbol";
    let handle = client.sql(sql(query)).await.unwrap().into_inner().info.unwrap().handle;
    let (remote, _) = fetch_all(&mut client, FetchRequest { handle, ..Default::default() }).await;
    // The oracle: polars SQL run in-process on the same file by absolute path.
    let path = fixture.data.path().join("trades.parquet").display().to_string();
    let local = polars::sql::SQLContext::new()
        .execute(&query.replace("trades.parquet", &path))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(remote.height(), 5);
    assert_frames_close(&remote, &local);
    // A missing file is NOT_FOUND, naming the path as written.
    let err = client.sql(sql("SELECT * FROM read_csv('nope.csv')")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("no file \"nope.csv\""), "{}", err.message());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flight_sql_cannot_leave_the_data_directory() {
    let fixture = Fixture::new();
    let server = TestServer::start(ServerConfig { data_dir: fixture.data.path().to_path_buf(), ..Default::default() }).await;
    let mut native = server.client().await;
    let channel = Channel::from_shared(format!("http://{}", server.addr)).unwrap().connect().await.unwrap();
    let mut flight = FlightClient::new(channel);
    for (query, expected) in fixture.escapes() {
        for door in ["action", "descriptor"] {
            let err = match door {
                "action" => flight.do_action(Action::new("sql", query.clone())).await.err(),
                _ => flight.get_flight_info(FlightDescriptor::new_cmd(query.clone())).await.err(),
            };
            let status = match err {
                Some(arrow_flight::error::FlightError::Tonic(status)) => status,
                other => panic!("{door} {query}: expected a refusal, got {other:?}"),
            };
            assert_eq!(status.code(), Code::PermissionDenied, "{door} {query}: {}", status.message());
            assert!(status.message().contains(expected), "{door} {query}: {}", status.message());
            assert!(!status.message().contains(SECRET_COLUMN), "{door} {query}: {}", status.message());
        }
    }
    assert_eq!(handle_count(&mut native).await, 0, "a refused query left a handle");
    server.stop().await;
}
