//! Server-side DataFrame handles.
//!
//! A *handle* is the server's name for a materialized [`DataFrame`] or a lazy
//! plan ([`LazyFrame`]). Clients hold only handles; the data stays here. The
//! [`HandleStore`] is a [moka] cache with an idle TTL, an optional hard
//! lifetime, a memory budget and per-namespace isolation, and it remembers for
//! a while why a handle is gone so errors can say so.
//!
//! # Example
//! ```
//! use polaroid_handles::{Entry, HandleConfig, HandleStore, Namespace};
//! use polars::prelude::*;
//!
//! let store = HandleStore::new(HandleConfig::default());
//! let ns = Namespace::new("alice");
//! let df = df!("symbol" => ["A", "B"], "price" => [1.0, 2.0]).unwrap();
//! let id = store.insert(&ns, Entry::frame(df, "upload(\"ticks\")")).unwrap();
//! let entry = store.get(&ns, id).unwrap();
//! assert_eq!(entry.rows(), Some(2));
//! // Another namespace cannot see it.
//! assert!(store.get(&Namespace::new("bob"), id).is_err());
//! ```
//!
//! [`DataFrame`]: polars::prelude::DataFrame
//! [`LazyFrame`]: polars::prelude::LazyFrame

mod config;
mod entry;
mod error;
mod frames;
mod gone;
mod id;
mod store;

pub use config::HandleConfig;
pub use entry::{Entry, HandleInfo, Namespace, Payload, PayloadKind};
pub use error::{GoneReason, HandleError, Result};
pub use id::HandleId;
pub use store::{HandleStore, StoreStats};
