//! Arrow Flight (`arrow.flight.protocol.FlightService`) over the same
//! handles as `polaroid.v1`, so any Flight client (pyarrow.flight, ADBC, the
//! arrow-flight crate) reads and writes handles with no Polaroid code.
//!
//! - A ticket is a handle id as UTF-8; DoGet streams the handle's result.
//! - DoPut turns an uploaded stream into a new materialized handle and
//!   answers with its id in `PutResult.app_metadata`.
//! - A path descriptor `[handle id]` describes a handle; a command
//!   descriptor is a SQL query over the caller's handles.
//! - Actions: `drop`, `keepalive`, `collect`, `sql`.
//!
//! Like the native service, this layer only decodes, calls [`State`], and
//! encodes; errors map to gRPC codes through [`ServiceError`].

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use polaroid_handles::{HandleId, HandleInfo, Namespace};
use polars::prelude::Schema;
use polars_arrow::io::ipc::write::EncodedData;
use tonic::{Request, Response, Status, Streaming};

use crate::error::ServiceError;
use crate::fetch::{frame_header, EncodedBatch, IpcEncoder, Window};
use crate::proto;
use crate::auth::namespace;
use crate::service::{parse_id, upload_too_large, State};

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The actions DoAction understands, with what ListActions says of them.
const ACTIONS: &[(&str, &str)] = &[
    ("drop", "Drop a handle. Body: the handle id (UTF-8). No results."),
    ("keepalive", "Refresh a handle's idle timer. Body: the handle id. Result: the id."),
    ("collect", "Materialize a handle's plan into a new handle. Body: the handle id. Result: the new id."),
    (
        "sql",
        "Run a SQL query over the caller's handles, named by id (quoted) or by upload name. \
         Body: the query text. Result: the new handle id.",
    ),
];

/// The Flight service. It shares its state with the native service.
#[derive(Clone)]
pub struct PolaroidFlight {
    state: Arc<State>,
}

impl PolaroidFlight {
    pub(crate) fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    /// The handle a descriptor names. A command descriptor (SQL) makes one.
    async fn resolve(&self, ns: &Namespace, descriptor: FlightDescriptor) -> Result<HandleId, Status> {
        match DescriptorType::try_from(descriptor.r#type).unwrap_or(DescriptorType::Unknown) {
            DescriptorType::Path => match descriptor.path.as_slice() {
                [id] => Ok(parse_id(id)?),
                other => Err(ServiceError::InvalidArgument(format!(
                    "a path descriptor names one handle: [\"<handle id>\"], got {} elements",
                    other.len()
                ))
                .into()),
            },
            DescriptorType::Cmd => {
                let query = utf8(&descriptor.cmd, "the command descriptor (a SQL query)")?;
                let ns = ns.clone();
                let reply = self.state.run(move |state, _| sql_over_namespace(state, &ns, &query)).await?;
                Ok(reply_id(&reply)?)
            },
            DescriptorType::Unknown => Err(ServiceError::InvalidArgument(
                "the descriptor type must be PATH ([handle id]) or CMD (a SQL query)".into(),
            )
            .into()),
        }
    }

    fn describe(&self, ns: &Namespace, id: HandleId) -> Result<FlightInfo, Status> {
        let entry = self.state.store.get(ns, id).map_err(ServiceError::from)?;
        Ok(flight_info(&entry.info(id)))
    }
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, Status> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ServiceError::InvalidArgument(format!("{what} must be UTF-8")).into())
}

fn reply_id(reply: &proto::HandleReply) -> Result<HandleId, ServiceError> {
    let handle = reply.info.as_ref().map(|i| i.handle.as_str()).unwrap_or_default();
    parse_id(handle)
}

/// The schema as an encapsulated IPC message, as FlightInfo and
/// SchemaResult carry it.
fn ipc_schema(schema: &Schema) -> Bytes {
    let (_, message) = IpcEncoder::start(schema, usize::MAX, None);
    let mut out = Vec::new();
    frame_header(&message.ipc_message, &mut out);
    out.into()
}

fn flight_info(info: &HandleInfo) -> FlightInfo {
    let id = info.id.to_string();
    FlightInfo {
        schema: ipc_schema(&info.schema),
        flight_descriptor: Some(FlightDescriptor::new_path(vec![id.clone()])),
        endpoint: vec![FlightEndpoint {
            ticket: Some(Ticket { ticket: Bytes::from(id) }),
            location: vec![],
            expiration_time: None,
            app_metadata: Bytes::new(),
        }],
        total_records: info.rows.map_or(-1, |r| r as i64),
        total_bytes: info.estimated_bytes.map_or(-1, |b| b as i64),
        ordered: true,
        app_metadata: Bytes::from(info.lineage.to_string()),
    }
}

fn flight_data(message: EncodedData) -> FlightData {
    FlightData {
        flight_descriptor: None,
        data_header: message.ipc_message.into(),
        app_metadata: Bytes::new(),
        data_body: message.arrow_data.into(),
    }
}

/// polars-sql's table functions, which the SQL parser reports as table names.
const TABLE_FUNCTIONS: &[&str] = &["read_csv", "read_parquet", "read_ipc", "read_json"];

/// Run `query` with every table it names resolved among the caller's
/// handles: a handle id (quoted, as ids contain dashes) or an upload name.
fn sql_over_namespace(state: &State, ns: &Namespace, query: &str) -> Result<proto::HandleReply, ServiceError> {
    if query.trim().is_empty() {
        return Err(ServiceError::InvalidArgument("the SQL query is empty".into()));
    }
    let names = polars::sql::extract_table_identifiers(query, false, true)?;
    let mut tables = std::collections::HashMap::new();
    let mut listed: Option<Vec<HandleInfo>> = None;
    let mut unresolved = Vec::new();
    for name in names {
        // Table functions read data-directory files; SQL resolves them itself.
        if TABLE_FUNCTIONS.contains(&name.as_str()) {
            continue;
        }
        let id = match name.parse::<HandleId>() {
            Ok(id) => Some(id),
            Err(_) => {
                let handles = listed.get_or_insert_with(|| state.store.list(ns));
                // Newest first: a name re-uploaded refers to the latest upload.
                handles.iter().rev().find(|h| h.name.as_deref() == Some(name.as_str())).map(|h| h.id)
            },
        };
        match id {
            Some(id) => {
                tables.insert(name, id.to_string());
            },
            // A CTE or a subquery alias; if it is neither, polars says the
            // relation was not found.
            None => unresolved.push(name),
        }
    }
    state.sql(ns, proto::SqlRequest { tables, query: query.to_string() }).map_err(|e| match e {
        ServiceError::Polars(p) if !unresolved.is_empty() && p.to_string().contains("not found") => {
            ServiceError::InvalidArgument(format!(
                "{p}; tables are named by a handle id (quoted) or by the name of one of your uploads \
                 (not resolved here: {})",
                unresolved.join(", ")
            ))
        },
        other => other,
    })
}

/// One FlightData message as IPC stream chunks, for the polars reader: the
/// framed header, then the body as received (not copied).
fn append_framed(data: FlightData, out: &mut Vec<Bytes>) {
    let mut header = Vec::new();
    frame_header(&data.data_header, &mut header);
    out.push(header.into());
    // The header's bodyLength already counts the body's padding.
    out.push(data.data_body);
}

#[tonic::async_trait]
impl FlightService for PolaroidFlight {
    type HandshakeStream = BoxStream<HandshakeResponse>;

    /// Authentication is the `authorization: Bearer` metadata every call
    /// carries, so the handshake only acknowledges the client.
    async fn handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        let replies = request.into_inner().map(|req| {
            req.map(|r| HandshakeResponse { protocol_version: r.protocol_version, payload: Bytes::new() })
        });
        Ok(Response::new(Box::pin(replies)))
    }

    type ListFlightsStream = BoxStream<FlightInfo>;

    async fn list_flights(&self, request: Request<Criteria>) -> Result<Response<Self::ListFlightsStream>, Status> {
        let ns = namespace(&request)?;
        let infos: Vec<_> = self.state.store.list(&ns).iter().map(|info| Ok(flight_info(info))).collect();
        Ok(Response::new(Box::pin(futures::stream::iter(infos))))
    }

    async fn get_flight_info(&self, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        let ns = namespace(&request)?;
        let id = self.resolve(&ns, request.into_inner()).await?;
        self.describe(&ns, id).map(Response::new)
    }

    async fn poll_flight_info(&self, _request: Request<FlightDescriptor>) -> Result<Response<PollInfo>, Status> {
        Err(ServiceError::Unimplemented(
            "PollFlightInfo is not supported: GetFlightInfo answers at once (a plan runs when it is fetched)".into(),
        )
        .into())
    }

    async fn get_schema(&self, request: Request<FlightDescriptor>) -> Result<Response<SchemaResult>, Status> {
        let ns = namespace(&request)?;
        let id = self.resolve(&ns, request.into_inner()).await?;
        let entry = self.state.store.get(&ns, id).map_err(ServiceError::from)?;
        Ok(Response::new(SchemaResult { schema: ipc_schema(entry.schema()) }))
    }

    type DoGetStream = BoxStream<FlightData>;

    async fn do_get(&self, request: Request<Ticket>) -> Result<Response<Self::DoGetStream>, Status> {
        let ns = namespace(&request)?;
        let ticket = utf8(&request.get_ref().ticket, "the ticket (a handle id)")?;
        let id = parse_id(ticket.trim())?;
        let entry = self.state.store.get(&ns, id).map_err(ServiceError::from)?;
        let (encoder, schema) = IpcEncoder::start(entry.schema(), self.state.max_message_size, None);
        let to_flight = |batch: EncodedBatch| batch.messages.into_iter().map(flight_data).collect();
        let slot = self.state.slots.acquire().await?;
        let stream = self.state.spawn_result_stream(
            id,
            entry,
            Window::default(),
            encoder,
            vec![flight_data(schema)],
            to_flight,
            vec![],
            slot,
        );
        Ok(Response::new(Box::pin(stream)))
    }

    type DoPutStream = BoxStream<PutResult>;

    async fn do_put(&self, request: Request<Streaming<FlightData>>) -> Result<Response<Self::DoPutStream>, Status> {
        let (state, ns) = (self.state.clone(), namespace(&request)?);
        let mut stream = request.into_inner();
        let budget = state.build_limit();
        let (mut name, mut chunks, mut size, mut first) = (String::new(), Vec::new(), 0u64, true);
        while let Some(data) = stream.message().await? {
            if std::mem::take(&mut first) {
                name = match &data.flight_descriptor {
                    Some(d) if d.r#type == DescriptorType::Path as i32 => d.path.first().cloned().unwrap_or_default(),
                    _ => String::new(),
                };
            }
            if data.data_header.is_empty() {
                continue; // app_metadata only
            }
            size += (data.data_header.len() + data.data_body.len()) as u64;
            if size > budget {
                return Err(upload_too_large(budget).into());
            }
            append_framed(data, &mut chunks);
        }
        let reply = state.run(move |state, _| state.upload(&ns, name, chunks)).await?;
        let id = reply_id(&reply)?;
        let result = PutResult { app_metadata: Bytes::from(id.to_string()) };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(result)]))))
    }

    type DoExchangeStream = BoxStream<FlightData>;

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(ServiceError::Unimplemented("DoExchange is not supported: DoPut a table, then DoGet the result".into()).into())
    }

    type DoActionStream = BoxStream<arrow_flight::Result>;

    async fn do_action(&self, request: Request<Action>) -> Result<Response<Self::DoActionStream>, Status> {
        let (state, ns) = (self.state.clone(), namespace(&request)?);
        let action = request.into_inner();
        let body = utf8(&action.body, &format!("the body of action {:?}", action.r#type))?;
        let result_body: Option<String> = match action.r#type.as_str() {
            "drop" => {
                state.store.drop(&ns, parse_id(body.trim())?).map_err(ServiceError::from)?;
                None
            },
            "keepalive" => {
                let id = parse_id(body.trim())?;
                state.store.get(&ns, id).map_err(ServiceError::from)?;
                Some(id.to_string())
            },
            "collect" => {
                let req = proto::CollectRequest { handle: body.trim().to_string(), engine: proto::Engine::Auto as i32 };
                let reply = state.run(move |state, cancel| state.collect(&ns, req, cancel)).await?;
                Some(reply_id(&reply)?.to_string())
            },
            "sql" => {
                let reply = state.run(move |state, _| sql_over_namespace(state, &ns, &body)).await?;
                Some(reply_id(&reply)?.to_string())
            },
            other => {
                let known: Vec<_> = ACTIONS.iter().map(|(name, _)| *name).collect();
                return Err(ServiceError::InvalidArgument(format!(
                    "unknown action {other:?}; this server knows {}",
                    known.join(", ")
                ))
                .into());
            },
        };
        let results: Vec<_> =
            result_body.into_iter().map(|b| Ok(arrow_flight::Result { body: Bytes::from(b) })).collect();
        Ok(Response::new(Box::pin(futures::stream::iter(results))))
    }

    type ListActionsStream = BoxStream<ActionType>;

    async fn list_actions(&self, _request: Request<Empty>) -> Result<Response<Self::ListActionsStream>, Status> {
        let actions = ACTIONS
            .iter()
            .map(|(name, description)| Ok(ActionType { r#type: name.to_string(), description: description.to_string() }));
        Ok(Response::new(Box::pin(futures::stream::iter(actions.collect::<Vec<_>>()))))
    }
}
