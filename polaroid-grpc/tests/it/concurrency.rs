use polaroid_grpc::proto::{FetchRequest, HandleRequest, SliceRequest, SortKey, SortRequest, StatsRequest};
use polars::prelude::*;

use crate::{fetch_all, upload, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_pipelines_are_correct_and_clean_up() {
    let server = TestServer::with_sample().await;
    let mut admin = server.client().await;
    let baseline = admin.stats(StatsRequest {}).await.unwrap().into_inner().handles;

    let tasks: Vec<_> = (0..32i64)
        .map(|i| {
            let server_addr = server.addr;
            tokio::spawn(async move {
                let channel = tonic::transport::Channel::from_shared(format!("http://{server_addr}")).unwrap().connect().await.unwrap();
                let mut client = polaroid_grpc::proto::polaroid_client::PolaroidClient::new(channel);
                // Each client has its own data: values depend on i.
                let n = 1000 + i * 37;
                let local = df!("x" => (0..n).map(|v| (v * 7919 + i) % 1000).collect::<Vec<_>>(), "g" => (0..n).map(|v| v % 5).collect::<Vec<_>>()).unwrap();
                let up = upload(&mut client, &format!("c{i}"), &local, 4096).await.unwrap().handle;
                let sorted = client
                    .sort(SortRequest { handle: up.clone(), by: vec![SortKey { column: "x".into(), descending: true, nulls_last: false }], maintain_order: true })
                    .await
                    .unwrap()
                    .into_inner()
                    .info
                    .unwrap()
                    .handle;
                let top = client.slice(SliceRequest { handle: sorted.clone(), offset: 0, length: Some(10) }).await.unwrap().into_inner().info.unwrap().handle;
                let (remote, _) = fetch_all(&mut client, FetchRequest { handle: top.clone(), ..Default::default() }).await;
                let expected = local
                    .lazy()
                    .sort(["x"], SortMultipleOptions::default().with_order_descending(true).with_maintain_order(true))
                    .slice(0, 10)
                    .collect()
                    .unwrap();
                assert!(remote.equals_missing(&expected), "client {i}");
                for handle in [top, sorted, up] {
                    client.drop(HandleRequest { handle }).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let after = admin.stats(StatsRequest {}).await.unwrap().into_inner();
    assert_eq!(after.handles, baseline, "every pipeline dropped what it made");
    assert_eq!(after.dropped, 32 * 3);
    server.stop().await;
}
