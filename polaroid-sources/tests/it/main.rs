//! Live sources against a local WebSocket replay server (tokio-tungstenite
//! `accept_async`) that plays recorded-format Binance and Coinbase JSONL.
//! Rows in the table are checked value by value against the fixture, read
//! independently here with serde_json.

mod kafka;
mod support;
mod websocket;

pub use support::*;
