//! A first session against a running `polaroid-server` (start it with
//! `make run`), using the generated gRPC client:
//!
//!     cargo run -p polaroid-grpc --example first_query [-- http://127.0.0.1:50051]
//!
//! It scans the sample trades, asks for per-symbol VWAP with SQL, looks at
//! the optimized plan, fetches the result as Arrow IPC, and drops its handles.

use std::collections::HashMap;

use polaroid_grpc::proto::polaroid_client::PolaroidClient;
use polaroid_grpc::proto::{ExplainRequest, FetchRequest, FileFormat, HandleRequest, ScanRequest, SqlRequest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:50051".into());
    let mut client = PolaroidClient::connect(url).await?;

    let trades = client
        .scan(ScanRequest { path: "trades.parquet".into(), format: FileFormat::Parquet as i32, ..Default::default() })
        .await?
        .into_inner()
        .info
        .ok_or("no handle info")?;
    println!("scanned trades.parquet -> handle {}", trades.handle);

    let query = "SELECT symbol, COUNT(*) AS trades, SUM(price * size) / SUM(size) AS vwap \
                 FROM trades WHERE size >= 100 GROUP BY symbol ORDER BY symbol";
    let vwap = client
        .sql(SqlRequest { tables: HashMap::from([("trades".into(), trades.handle.clone())]), query: query.into() })
        .await?
        .into_inner()
        .info
        .ok_or("no handle info")?;

    let plan = client.explain(ExplainRequest { handle: vwap.handle.clone(), unoptimized: false }).await?.into_inner().plan;
    println!("optimized plan:\n{plan}\n");

    let mut stream = client.fetch(FetchRequest { handle: vwap.handle.clone(), ..Default::default() }).await?.into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message);
    }
    println!("{}", polaroid_grpc::decode_ipc_stream(messages)?);

    for handle in [vwap.handle, trades.handle] {
        client.drop(HandleRequest { handle }).await?;
    }
    Ok(())
}
