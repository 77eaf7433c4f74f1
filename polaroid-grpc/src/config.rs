use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use polaroid_core::{CoreConfig, SlotConfig};

/// What a Polaroid gRPC server needs to run: the core's settings and the
/// gRPC door's own. `Default` is what `polaroid-server` uses with no flags.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on. Default: 127.0.0.1:50051.
    pub listen: SocketAddr,
    /// Files that Scan may read live under this directory; nothing outside it
    /// is reachable. Default: `./data`.
    pub data_dir: PathBuf,
    /// Idle time after which an unused handle expires. Default: 30 minutes.
    pub handle_ttl: Duration,
    /// Memory budget, in bytes, for materialized frames held in handles.
    /// Default: 4 GiB.
    pub memory_limit: u64,
    /// Largest gRPC message the server accepts or sends, in bytes. Fetch
    /// splits results into messages under this size. Default: 2 MiB, well
    /// under the 4 MiB stock clients accept.
    pub max_message_size: usize,
    /// Largest single message an upload may send (Flight DoPut, where
    /// clients such as pyarrow send a whole record batch as one message).
    /// Default: 64 MiB. Larger batches must be split by the client.
    pub max_upload_message: usize,
    /// Query slots: how many requests do query work at once, how many may
    /// wait, and for how long (`--max-concurrent-queries`, `--max-queued-queries`,
    /// `--queue-timeout`). See [`SlotConfig`].
    pub slots: SlotConfig,
    /// If not empty, every call needs `authorization: Bearer <token>` with
    /// one of these tokens, and each token has its own handle namespace.
    pub auth_tokens: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: PathBuf::from("data"),
            handle_ttl: Duration::from_secs(30 * 60),
            memory_limit: 4 << 30,
            max_message_size: 2 << 20,
            max_upload_message: 64 << 20,
            slots: SlotConfig::default(),
            auth_tokens: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// The core's part of these settings.
    pub fn core(&self) -> CoreConfig {
        CoreConfig {
            data_dir: self.data_dir.clone(),
            handle_ttl: self.handle_ttl,
            memory_limit: self.memory_limit,
            slots: self.slots,
            auth_tokens: self.auth_tokens.clone(),
        }
    }
}
