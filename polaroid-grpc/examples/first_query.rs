//! A first session against a running `polaroid-server` (start it with
//! `make run`), written the way Polars code is written:
//!
//!     cargo run -p polaroid-grpc --example first_query [-- http://127.0.0.1:50051]
//!
//! It scans the sample trades on the server, filters and aggregates them
//! there, prints the optimized plan, fetches only the small result, and
//! drops its handles. Then it runs the same query as one plain polars
//! LazyFrame, shipped whole in one call (`Client::remote`).

use polaroid_grpc::client::Client;
use polars::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:50051".into());
    let client = Client::connect(url).await?;

    let trades = client.scan_parquet("trades.parquet").await?;
    println!("trades.parquet -> handle {} with columns {:?}", trades.id(), trades.schema());

    let vwap = trades
        .filter(col("size").gt_eq(lit(100)))
        .await?
        .group_by([col("symbol")])
        .agg([
            len().alias("trades"),
            ((col("price") * col("size")).sum() / col("size").sum()).alias("vwap"),
        ])
        .await?
        .sort(["symbol"], SortMultipleOptions::default())
        .await?;

    println!("optimized plan:\n{}\n", vwap.explain().await?);
    println!("{}", vwap.fetch().await?);

    // The same query as an ordinary LazyFrame: one Plan call and one Fetch.
    // Paths are relative to the server's data directory.
    let lf = LazyFrame::scan_parquet(PlRefPath::new("trades.parquet"), Default::default())?
        .filter(col("size").gt_eq(lit(100)))
        .group_by([col("symbol")])
        .agg([
            len().alias("trades"),
            ((col("price") * col("size")).sum() / col("size").sum()).alias("vwap"),
        ])
        .sort(["symbol"], SortMultipleOptions::default());
    let shipped = client.remote(lf).collect().await?;
    println!("the same, shipped as one plan: {} rows, equal: {}", shipped.height(), shipped.equals(&vwap.fetch().await?));

    vwap.drop().await?;
    trades.drop().await?;
    Ok(())
}
