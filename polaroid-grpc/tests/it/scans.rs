//! Scan: polars' CSV options, several files (glob patterns, directories with
//! hive partitions, lists), each against polars reading the same files
//! in-process.

use std::path::Path;

use polaroid_grpc::proto::polaroid_client::PolaroidClient;
use polaroid_grpc::proto::{self, FetchRequest, ScanRequest};
use polaroid_grpc::ServerConfig;
use polars::prelude::*;
use tonic::transport::Channel;
use tonic::Code;

use crate::{fetch_all, TestServer};

async fn read(client: &mut PolaroidClient<Channel>, request: ScanRequest) -> DataFrame {
    let handle = client.scan(request).await.unwrap().into_inner().info.unwrap().handle;
    fetch_all(client, FetchRequest { handle, ..Default::default() }).await.0
}

fn field(name: &str, dtype: &str) -> proto::Field {
    proto::Field { name: name.into(), dtype: dtype.into() }
}

fn write_parquet(path: &Path, mut df: DataFrame) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap()).finish(&mut df).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_options_read_as_polars_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    // A preamble line, a comment, ';' fields, NA for null, '\'' quotes and a ragged row.
    let text = "exported by a tool\nid;name;score\n# a comment\n1;'a;b';2.5\n2;NA;NA\n3;c;4.0;extra\n";
    std::fs::write(dir.path().join("odd.csv"), text).unwrap();
    let server = TestServer::start(ServerConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).await;
    let mut client = server.client().await;
    let request = ScanRequest {
        path: "odd.csv".into(),
        csv_separator: Some(";".into()),
        csv_skip_rows: Some(1),
        csv_comment_prefix: Some("#".into()),
        csv_quote_char: Some("'".into()),
        csv_null_values: vec!["NA".into()],
        csv_truncate_ragged_lines: Some(true),
        csv_schema_overrides: vec![field("id", "i32")],
        ..Default::default()
    };
    let got = read(&mut client, request.clone()).await;
    let oracle = LazyCsvReader::new(PlRefPath::new(dir.path().join("odd.csv").to_string_lossy().as_ref()))
        .with_separator(b';')
        .with_skip_rows(1)
        .with_comment_prefix(Some("#".into()))
        .with_quote_char(Some(b'\''))
        .with_null_values(Some(NullValues::AllColumns(vec!["NA".into()])))
        .with_truncate_ragged_lines(true)
        .with_dtype_overwrite(Some(Arc::new(Schema::from_iter([Field::new("id".into(), DataType::Int32)]))))
        .finish()
        .unwrap()
        .collect()
        .unwrap();
    assert!(got.equals_missing(&oracle), "{got}\n{oracle}");
    // By hand: the quoted separator stays in the field; NA is null; the ragged row is cut.
    let expected = df!("id" => [1i32, 2, 3], "name" => [Some("a;b"), None, Some("c")], "score" => [Some(2.5), None, Some(4.0)]).unwrap();
    assert!(got.equals_missing(&expected), "{got}");

    // A whole schema: no inference, its names instead of the header's.
    let typed = ScanRequest {
        csv_schema: vec![field("x", "i64"), field("y", "str"), field("z", "f32")],
        csv_schema_overrides: vec![],
        ..request.clone()
    };
    let got = read(&mut client, typed).await;
    assert_eq!(got.get_column_names(), ["x", "y", "z"]);
    assert_eq!(got.column("z").unwrap().dtype(), &DataType::Float32);
    // No inference at all: every column a string.
    let strings = ScanRequest { csv_infer_schema_length: Some(0), csv_schema_overrides: vec![], ..request.clone() };
    let got = read(&mut client, strings).await;
    assert!(got.dtypes().iter().all(|d| d == &DataType::String), "{got}");

    for (bad, expected) in [
        (ScanRequest { csv_quote_char: Some("''".into()), ..request.clone() }, "csv_quote_char must be one byte"),
        (ScanRequest { csv_comment_prefix: Some("#\n".into()), ..request.clone() }, "csv_comment_prefix must be"),
        (ScanRequest { csv_schema: vec![field("x", "i64"), field("x", "str")], ..request.clone() }, "names column \"x\" twice"),
        (ScanRequest { csv_schema_overrides: vec![field("id", "integer")], ..request.clone() }, "csv_schema_overrides: column \"id\""),
        (ScanRequest { paths: vec!["odd.csv".into()], ..request.clone() }, "set path or paths, not both"),
    ] {
        let err = client.scan(bad).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
        assert!(err.message().contains(expected), "{}", err.message());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globs_directories_and_lists_read_their_files_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let day = |d: i64| df!("day" => [d, d], "v" => [d * 10, d * 10 + 1]).unwrap();
    for d in [3, 1, 2] {
        write_parquet(&dir.path().join(format!("days/d{d}.parquet")), day(d));
        write_parquet(&dir.path().join(format!("hive/region=r{d}/part.parquet")), day(d).drop("day").unwrap());
    }
    // The server's own storage is never matched by a pattern.
    write_parquet(&dir.path().join("tables/t/days/d9.parquet"), day(9));
    let server = TestServer::start(ServerConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).await;
    let mut client = server.client().await;
    let in_order = |days: &[i64]| {
        let frames: Vec<LazyFrame> = days.iter().map(|&d| day(d).lazy()).collect();
        concat(frames, Default::default()).unwrap().collect().unwrap()
    };

    let got = read(&mut client, ScanRequest { path: "days/*.parquet".into(), ..Default::default() }).await;
    assert!(got.equals(&in_order(&[1, 2, 3])), "{got}");
    let got = read(&mut client, ScanRequest { path: "**/d*.parquet".into(), ..Default::default() }).await;
    assert!(got.equals(&in_order(&[1, 2, 3])), "{got}");
    let paths = vec!["days/d3.parquet".into(), "days/d1.parquet".into()];
    let got = read(&mut client, ScanRequest { paths, ..Default::default() }).await;
    assert!(got.equals(&in_order(&[3, 1])), "{got}");

    // A directory: hive partitions on, as polars reads it.
    let got = read(&mut client, ScanRequest { path: "hive".into(), ..Default::default() }).await;
    let oracle = LazyFrame::scan_parquet(PlRefPath::new(dir.path().join("hive").to_string_lossy().as_ref()), Default::default())
        .unwrap()
        .collect()
        .unwrap();
    assert!(got.equals(&oracle), "{got}\n{oracle}");
    assert_eq!(got.column("region").unwrap().str().unwrap().get(0), Some("r1"));
    let plain = read(&mut client, ScanRequest { path: "hive".into(), hive_partitioning: Some(false), ..Default::default() }).await;
    assert_eq!(plain.get_column_names(), ["v"]);

    let outside = tempfile::tempdir().unwrap();
    write_parquet(&outside.path().join("secret.parquet"), day(7));
    std::os::unix::fs::symlink(outside.path(), dir.path().join("days/escape")).unwrap();
    let got = read(&mut client, ScanRequest { path: "days/**/*.parquet".into(), ..Default::default() }).await;
    assert!(got.equals(&in_order(&[1, 2, 3])), "a link out of the data directory is not followed: {got}");
    for (path, code, expected) in [
        ("../*.parquet", Code::PermissionDenied, "may not use '..'"),
        ("/tmp/*.parquet", Code::PermissionDenied, "relative to the server's data directory"),
        ("nothing/*.parquet", Code::NotFound, "no file matches \"nothing/*.parquet\""),
        ("tables/**/*.parquet", Code::NotFound, "no file matches"),
        ("tables", Code::PermissionDenied, "table storage"),
        ("days/[", Code::InvalidArgument, "is not a valid glob pattern"),
    ] {
        let err = client.scan(ScanRequest { path: path.into(), ..Default::default() }).await.unwrap_err();
        assert_eq!(err.code(), code, "{path}: {}", err.message());
        assert!(err.message().contains(expected), "{path}: {}", err.message());
    }
    server.stop().await;
}
