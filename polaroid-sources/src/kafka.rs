//! A Kafka source: a consumer group whose offsets follow the table.
//!
//! Messages are decoded into the pending batch with their topic, partition
//! and offset. The writer commits a batch's offsets only after the batch is
//! durable in the table (at-least-once), and on start the source reads the
//! highest offset per partition already in the table and skips messages at
//! or below it, so a batch appended just before a crash, whose commit was
//! lost, is not appended twice. When the writer falls behind, the source
//! stops taking messages (the consumer's queue then stops fetching) instead
//! of dropping them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use polaroid_core::{Core, Namespace};
use polars::prelude::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::decode::{Cell, Decoder, Record, KAFKA_OFFSET, KAFKA_PARTITION, KAFKA_TOPIC};
use crate::registry::SourceState;
use crate::run::{lock, receive_rows, stopped, Shared};
use crate::spec::{KafkaFeed, SourceSpec};

/// The highest offset of each (topic, partition) this batch holds.
pub(crate) type Offsets = HashMap<(String, i32), i64>;

/// Commit `offsets` (the next message to read is each offset + 1).
pub(crate) fn commit(consumer: &StreamConsumer, offsets: &Offsets) -> Result<(), String> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(offset + 1)).map_err(|e| e.to_string())?;
    }
    consumer.commit(&list, CommitMode::Sync).map_err(|e| format!("offset commit failed: {e}"))
}

/// The highest offset per (topic, partition) already in the table.
fn offsets_in_table(core: &Core, ns: &Namespace, spec: &SourceSpec) -> Result<Offsets, String> {
    let Some(table) = core.tables().get(ns, &spec.table).map_err(|e| e.to_string())? else {
        return Ok(Offsets::new());
    };
    let schema = table.def().schema().map_err(|e| e.to_string())?;
    if ![KAFKA_TOPIC, KAFKA_PARTITION, KAFKA_OFFSET].iter().all(|c| schema.contains(c)) {
        return Ok(Offsets::new());
    }
    let df = table
        .scan()
        .map_err(|e| e.to_string())?
        .group_by([col(KAFKA_TOPIC), col(KAFKA_PARTITION)])
        .agg([col(KAFKA_OFFSET).max()])
        .collect()
        .map_err(|e| e.to_string())?;
    let (topics, partitions, offsets) = (
        df.column(KAFKA_TOPIC).and_then(|c| c.str().cloned()).map_err(|e| e.to_string())?,
        df.column(KAFKA_PARTITION).and_then(|c| c.cast(&DataType::Int64)).map_err(|e| e.to_string())?,
        df.column(KAFKA_OFFSET).and_then(|c| c.cast(&DataType::Int64)).map_err(|e| e.to_string())?,
    );
    let (partitions, offsets) = (partitions.i64().map_err(|e| e.to_string())?, offsets.i64().map_err(|e| e.to_string())?);
    let mut out = Offsets::new();
    for i in 0..df.height() {
        if let (Some(t), Some(p), Some(o)) = (topics.get(i), partitions.get(i), offsets.get(i)) {
            out.insert((t.to_string(), p as i32), o);
        }
    }
    Ok(out)
}

fn consumer(spec: &SourceSpec, feed: &KafkaFeed) -> Result<StreamConsumer, String> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &feed.brokers)
        .set("group.id", feed.group.clone().unwrap_or_else(|| format!("polaroid-{}", spec.name)))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", feed.start.as_deref().unwrap_or("earliest"))
        .set("enable.partition.eof", "false")
        // A fetch with nothing new waits at most this long: a tick's latency
        // on brokers that hold a fetch to its limit (librdkafka's default is 500 ms).
        .set("fetch.wait.max.ms", "50");
    for (key, value) in &feed.options {
        config.set(key, value);
    }
    let consumer: StreamConsumer = config.create().map_err(|e| format!("kafka consumer: {e}"))?;
    let topics: Vec<&str> = feed.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).map_err(|e| format!("subscribe to {topics:?}: {e}"))?;
    Ok(consumer)
}

pub(crate) async fn read_kafka(
    core: &Arc<Core>,
    ns: &Namespace,
    spec: &SourceSpec,
    feed: &KafkaFeed,
    shared: &Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let (core2, ns2, spec2) = (core.clone(), ns.clone(), spec.clone());
    let read = tokio::task::spawn_blocking(move || offsets_in_table(&core2, &ns2, &spec2)).await;
    let seen = match read.map_err(|e| e.to_string()).and_then(|r| r) {
        Ok(seen) => seen,
        Err(e) => {
            shared.update(|s| s.last_error = Some(format!("cannot read the offsets already in {}: {e}", spec.table)));
            return;
        },
    };
    let consumer = match consumer(spec, feed) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            shared.update(|s| s.last_error = Some(e));
            return;
        },
    };
    *lock(&shared.kafka) = Some(consumer.clone());
    let decoder = Decoder::new(spec);
    shared.update(|s| s.state = SourceState::Connecting);
    let mut connected = false;
    loop {
        // Backpressure: take no message while the batch is at its bound.
        while lock(&shared.pending).rows.len() >= spec.max_pending_rows() {
            tokio::select! {
                () = stopped(&mut stop) => return,
                () = shared.drained.notified() => {},
                () = tokio::time::sleep(Duration::from_millis(50)) => {},
            }
        }
        let received = tokio::select! {
            () = stopped(&mut stop) => return,
            m = consumer.recv() => m,
        };
        match received {
            Ok(message) => {
                let (key, offset) = ((message.topic().to_string(), message.partition()), message.offset());
                if seen.get(&key).is_some_and(|&max| offset <= max) {
                    shared.update(|s| s.skipped += 1);
                    continue;
                }
                if !connected {
                    connected = true;
                    shared.update(|s| s.state = SourceState::Connected);
                }
                let text = match message.payload_view::<str>() {
                    Some(Ok(text)) => text,
                    Some(Err(_)) => {
                        shared.update(|s| {
                            s.decode_errors += 1;
                            s.last_error = Some(format!("{}/{}@{offset} is not UTF-8", key.0, key.1));
                        });
                        continue;
                    },
                    None => continue, // a tombstone
                };
                let extra = vec![Cell::Str(key.0.clone()), Cell::Int(key.1 as i64), Cell::Int(offset)];
                let record = Record {
                    key: message.key(),
                    timestamp_ms: message.timestamp().to_millis(),
                    headers: message.headers().map(|h| h.iter().map(|h| (h.key, h.value)).collect()).unwrap_or_default(),
                };
                receive_rows(core, spec, &decoder, shared, text, extra, Some((key.0, key.1, offset)), &record);
            },
            Err(e) => {
                // librdkafka reconnects by itself; say why it is not receiving.
                connected = false;
                shared.update(|s| {
                    s.state = SourceState::Backoff;
                    s.last_error = Some(format!("kafka: {e}"));
                });
                tokio::select! {
                    () = stopped(&mut stop) => return,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {},
                }
            },
        }
    }
}
