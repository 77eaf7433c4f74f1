//! The `polaroid-server` binary itself: first start writes the sample data,
//! it serves gRPC and HTTP, and SIGTERM stops it gracefully with exit status 0.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use polaroid_grpc::proto::polaroid_client::PolaroidClient;
use polaroid_grpc::proto::ScanRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_writes_sample_data_serves_and_stops_on_sigterm() {
    let workdir = tempfile::tempdir().unwrap();
    // A free ephemeral port for the child to listen on.
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (port, http_port) = (free(), free());
    let mut child = Command::new(env!("CARGO_BIN_EXE_polaroid-server"))
        .current_dir(workdir.path())
        .env("POLAROID_LISTEN", format!("127.0.0.1:{port}"))
        .env("POLAROID_HTTP_LISTEN", format!("127.0.0.1:{http_port}"))
        .env("POLAROID_ILP_LISTEN", "off")
        .env("POLAROID_PG_LISTEN", "off")
        .env_remove("POLAROID_DATA_DIR")
        .env_remove("POLAROID_AUTH_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut client = loop {
        match PolaroidClient::connect(url.clone()).await {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("server did not come up: {e}"),
        }
    };
    // Default data directory ./data, with the sample written on first start.
    assert!(workdir.path().join("data/trades.parquet").is_file());
    assert!(workdir.path().join("data/quotes.parquet").is_file());
    let reply = client
        .scan(ScanRequest { path: "quotes.parquet".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.info.unwrap().schema.unwrap().fields.len(), 6);
    // The HTTP door of the same process answers too.
    let health = http_get(http_port, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("OK\n"), "{health}");

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");
}

/// A plain HTTP/1.1 GET, read to the end (the server closes the connection).
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
