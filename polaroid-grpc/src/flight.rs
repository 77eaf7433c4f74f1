//! Arrow Flight (`arrow.flight.protocol.FlightService`) over the same
//! handles as `polaroid.v1`, so any Flight client (pyarrow.flight, ADBC, the
//! arrow-flight crate) reads and writes handles with no Polaroid code.
//!
//! - A ticket is a handle id as UTF-8; DoGet streams the handle's result.
//! - DoPut turns an uploaded stream into a new materialized handle and
//!   answers with its id in `PutResult.app_metadata` (with a Flight SQL
//!   command: a prepared query's parameters, or a bulk ingest).
//! - A path descriptor `[handle id]` describes a handle; a command
//!   descriptor is a SQL query over the caller's handles, or a serialized
//!   polars plan (its bytes start with polars' `DSL_VERSION` header).
//! - Actions: `drop`, `keepalive`, `collect`, `sql`, `plan`.
//! - SQL (the `sql` action, a command descriptor) runs on the distributed
//!   engine when the call carries the header `polaroid-distributed: true`
//!   (Flight has no field for it; every client can set a header).
//!
//! Like the native door, this layer only decodes, calls [`Core`], and
//! encodes; core errors map to gRPC codes in [`crate::status`].

use std::sync::Arc;

use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use bytes::Bytes;
use futures::StreamExt;
use polaroid_core::ipc::{frame_header, EncodedBatch, EncodedMessage, IpcEncoder, IpcSink};
use polaroid_core::results::Window;
use polaroid_core::{Core, CoreError, HandleId, HandleInfo, Namespace};
use polars::prelude::{Engine, Schema};
use tonic::{Request, Response, Status, Streaming};

use crate::auth::namespace;
use crate::native::{parse_id, status_stream, StatusStream as BoxStream};
use crate::parts::{Parts, PartsRoute};
use crate::status::{invalid, status, OrStatus};

/// The actions DoAction understands, with what ListActions says of them.
const ACTIONS: &[(&str, &str)] = &[
    ("drop", "Drop a handle. Body: the handle id (UTF-8). No results."),
    ("keepalive", "Refresh a handle's idle timer. Body: the handle id. Result: the id."),
    ("collect", "Materialize a handle's plan into a new handle. Body: the handle id. Result: the new id."),
    (
        "sql",
        "Run a SQL query over the caller's handles, named by id (quoted) or by upload name. \
         Body: the query text. Result: the new handle id. With the header `polaroid-distributed: true` \
         it runs on the Ballista cluster over data-directory files and tables.",
    ),
    (
        "plan",
        "Keep a polars plan (DslPlan::serialize_versioned, same polars release as the server) as a \
         handle; scans of polaroid://<handle id or table> read the caller's handles. Body: the plan \
         bytes. Result: the new handle id.",
    ),
];

/// The Flight service. It shares its state with the native service.
#[derive(Clone)]
pub struct PolaroidFlight {
    core: Arc<Core>,
    max_message_size: usize,
}

impl PolaroidFlight {
    /// Results are sent in messages of at most `max_message_size` bytes.
    pub fn new(core: Arc<Core>, max_message_size: usize) -> Self {
        Self { core, max_message_size }
    }

    /// The handle a descriptor names. A command descriptor (SQL) makes one.
    async fn resolve(&self, ns: &Namespace, descriptor: FlightDescriptor, distributed: bool) -> Result<HandleId, Status> {
        match DescriptorType::try_from(descriptor.r#type).unwrap_or(DescriptorType::Unknown) {
            DescriptorType::Path => match descriptor.path.as_slice() {
                // A handle id, or the name of one of the caller's tables.
                [name] => match name.parse::<HandleId>() {
                    Ok(id) => Ok(id),
                    Err(_) => match self.core.scan_table(ns, name).or_status()? {
                        Some(info) => Ok(info.id),
                        None => parse_id(name),
                    },
                },
                other => Err(invalid(format!(
                    "a path descriptor names one handle: [\"<handle id>\"], got {} elements",
                    other.len()
                ))),
            },
            DescriptorType::Cmd if crate::flight_sql::is_command(&descriptor.cmd) => {
                let command = crate::flight_sql::command(&descriptor.cmd).map_err(status)?;
                if distributed {
                    // (A change, INSERT or DROP, is the server's own tables': run here.)
                    if let Some(query) = crate::flight_sql::distributed_query(&self.core, &command).map_err(status)? {
                        return Ok(self.core.sql_distributed(ns, &query, &[]).await.map_err(status)?.id);
                    }
                }
                let ns = ns.clone();
                let info = self.core.run(move |core, cancel| crate::flight_sql::answer(core, &ns, command, cancel)).await;
                Ok(info.map_err(status)?.id)
            },
            DescriptorType::Cmd if polaroid_core::shipping::is_plan(&descriptor.cmd) => {
                let (ns, plan) = (ns.clone(), descriptor.cmd);
                let info = self.core.run(move |core, _| core.ship_plan(&ns, &plan, &Default::default(), "", "")).await;
                Ok(info.map_err(status)?.id)
            },
            DescriptorType::Cmd if distributed => {
                let query = utf8(&descriptor.cmd, "the command descriptor (a SQL query)")?;
                Ok(self.core.sql_distributed(ns, &query, &[]).await.map_err(status)?.id)
            },
            DescriptorType::Cmd => {
                let query = utf8(&descriptor.cmd, "the command descriptor (a SQL query)")?;
                let ns = ns.clone();
                let info = self.core.run(move |core, _| core.sql_over_namespace(&ns, &query)).await.map_err(status)?;
                Ok(info.id)
            },
            DescriptorType::Unknown => Err(invalid("the descriptor type must be PATH ([handle id]) or CMD (a SQL query)")),
        }
    }

    /// A DoPut stream's descriptor (its first message's) and IPC chunks,
    /// refused once it outgrows the caller's share of the budget.
    async fn receive_upload(&self, mut stream: Streaming<FlightData>) -> Result<(Option<FlightDescriptor>, Vec<Bytes>), Status> {
        let budget = self.core.build_limit();
        let (mut descriptor, mut chunks, mut size, mut first) = (None, Vec::new(), 0u64, true);
        while let Some(data) = stream.message().await.map_err(explain_message_limit)? {
            if std::mem::take(&mut first) {
                descriptor = data.flight_descriptor.clone();
            }
            if data.data_header.is_empty() {
                continue; // app_metadata only
            }
            size += (data.data_header.len() + data.data_body.len()) as u64;
            if size > budget {
                return Err(status(self.core.upload_too_large()));
            }
            append_framed(data, &mut chunks);
        }
        Ok((descriptor, chunks))
    }

    /// What one action does, and its result body if it has one.
    async fn act(&self, ns: Namespace, action: &str, body: String, distributed: bool) -> Result<Option<String>, Status> {
        let id = || parse_id(body.trim());
        let new_handle: Box<dyn FnOnce(&Core, &polaroid_core::CancelToken) -> Result<HandleInfo, CoreError> + Send> =
            match action {
                "drop" => return self.core.drop_handle(&ns, id()?).or_status().map(|()| None),
                "keepalive" => return self.core.info(&ns, id()?).or_status().map(|info| Some(info.id.to_string())),
                "collect" => {
                    let id = id()?;
                    Box::new(move |core, cancel| core.collect(&ns, id, Engine::Auto, cancel))
                },
                "sql" if distributed => {
                    let info = self.core.sql_distributed(&ns, &body, &[]).await.map_err(status)?;
                    return Ok(Some(info.id.to_string()));
                },
                "sql" => Box::new(move |core, _| core.sql_over_namespace(&ns, &body)),
                other => {
                    let known: Vec<_> = ACTIONS.iter().map(|(name, _)| *name).collect();
                    return Err(invalid(format!("unknown action {other:?}; this server knows {}", known.join(", "))));
                },
            };
        let info = self.core.run(new_handle).await.map_err(status)?;
        Ok(Some(info.id.to_string()))
    }

    /// DoGet: the ticket's handle streamed as the schema message, then its
    /// record batches, each IPC message made into a response by `message`.
    async fn serve_ticket<M: Send + 'static>(
        &self,
        request: Request<Ticket>,
        message: fn(EncodedMessage) -> M,
        whole: fn(FlightData) -> M,
    ) -> Result<BoxStream<M>, Status> {
        let ns = namespace(&request)?;
        if crate::flight_sql::is_command(&request.get_ref().ticket) {
            // A Flight SQL catalog answer (GetTables, ...): small, built here.
            let ticket = request.into_inner().ticket;
            let data = self.core.run(move |core, _| crate::flight_sql::catalog_data(core, &ns, &ticket)).await.map_err(status)?;
            return Ok(Box::pin(futures::stream::iter(data.into_iter().map(|d| Ok(whole(d))).collect::<Vec<_>>())));
        }
        let ticket = utf8(&request.get_ref().ticket, "the ticket (a handle id)")?;
        let id = parse_id(ticket.trim())?;
        let entry = self.core.handle(&ns, id).or_status()?;
        let to_messages = move |batch: EncodedBatch| batch.messages.into_iter().map(message).collect();
        let head = move |schema| vec![message(schema)];
        let sink = IpcSink::new(entry.schema(), self.max_message_size, None, head, to_messages, vec![]);
        let slot = self.core.slot().await.or_status()?;
        Ok(status_stream(self.core.stream(id, entry, Window::default(), sink, slot)))
    }

    /// The FlightInfo of a Flight SQL catalog command (GetTables, ...), if
    /// the descriptor holds one.
    async fn catalog_info(&self, ns: &Namespace, descriptor: &FlightDescriptor) -> Result<Option<FlightInfo>, Status> {
        let is_cmd = DescriptorType::try_from(descriptor.r#type) == Ok(DescriptorType::Cmd);
        if !is_cmd || !crate::flight_sql::is_command(&descriptor.cmd) {
            return Ok(None);
        }
        let (ns, cmd) = (ns.clone(), descriptor.cmd.clone());
        self.core.run(move |core, _| crate::flight_sql::catalog_info(core, &ns, &cmd)).await.map_err(status)
    }

    fn describe(&self, ns: &Namespace, id: HandleId) -> Result<FlightInfo, Status> {
        Ok(flight_info(&self.core.info(ns, id).or_status()?))
    }
}

/// Whether a call asks for the distributed engine: the header
/// `polaroid-distributed` (`true`/`false`, `1`/`0`; absent: false).
fn distributed<T>(request: &Request<T>) -> Result<bool, Status> {
    match request.metadata().get("polaroid-distributed").map(|v| v.to_str()) {
        None => Ok(false),
        Some(Ok(v)) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
        Some(Ok(v)) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
        Some(Ok(v)) => Err(invalid(format!("the header polaroid-distributed must be true or false, got {v:?}"))),
        Some(Err(_)) => Err(invalid("the header polaroid-distributed must be true or false (ASCII)")),
    }
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, Status> {
    String::from_utf8(bytes.to_vec()).map_err(|_| invalid(format!("{what} must be UTF-8")))
}

/// The schema as an encapsulated IPC message, as FlightInfo and
/// SchemaResult carry it.
pub(crate) fn ipc_schema(schema: &Schema) -> Bytes {
    let mut out = Vec::new();
    frame_header(&IpcEncoder::schema_message(schema), &mut out);
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

fn flight_data(message: EncodedMessage) -> FlightData {
    FlightData {
        flight_descriptor: None,
        data_header: message.header.into(),
        app_metadata: Bytes::new(),
        data_body: message.body.concat().into(),
    }
}

/// [`flight_data`]'s protobuf encoding in parts: the keys and the IPC
/// header, then the body's parts as the encoder gave them (the result's
/// buffers, not copied). What prost writes for the same FlightData.
fn flight_data_parts(message: EncodedMessage) -> Parts {
    use prost::encoding::{encode_key, encode_varint, WireType};
    // FlightData's field numbers (Flight.proto).
    const DATA_HEADER: u32 = 2;
    const DATA_BODY: u32 = 1000;
    let body_len = message.body_len();
    let mut head = Vec::with_capacity(message.header.len() + 16);
    if !message.header.is_empty() {
        encode_key(DATA_HEADER, WireType::LengthDelimited, &mut head);
        encode_varint(message.header.len() as u64, &mut head);
        head.extend_from_slice(&message.header);
    }
    if body_len > 0 {
        encode_key(DATA_BODY, WireType::LengthDelimited, &mut head);
        encode_varint(body_len as u64, &mut head);
    }
    let mut parts = Vec::with_capacity(message.body.len() + 1);
    parts.push(Bytes::from(head));
    parts.extend(message.body.into_iter().filter(|part| !part.is_empty()));
    parts
}

/// The Flight service with DoGet answered from the result's own buffers
/// ([`crate::parts`]); every other method goes to arrow-flight's server.
pub(crate) fn routes(
    flight: PolaroidFlight,
    max_decoding_message_size: usize,
) -> PartsRoute<FlightServiceServer<PolaroidFlight>, Ticket> {
    let generated = FlightServiceServer::new(flight.clone())
        .max_decoding_message_size(max_decoding_message_size)
        .max_encoding_message_size(flight.max_message_size);
    PartsRoute::new(generated, "/arrow.flight.protocol.FlightService/DoGet", max_decoding_message_size, move |request| {
        let flight = flight.clone();
        Box::pin(async move { flight.serve_ticket(request, flight_data_parts, |data| vec![Bytes::from(prost::Message::encode_to_vec(&data))]).await })
    })
}

/// tonic's refusal of a message past the upload limit, with what to do.
fn explain_message_limit(status: Status) -> Status {
    if status.code() == tonic::Code::OutOfRange && status.message().contains("message length too large") {
        return Status::out_of_range(format!(
            "{} (the server's --max-upload-message): a Flight client sends each record batch as one message; send \
             smaller batches, or start the server with a larger --max-upload-message",
            status.message()
        ));
    }
    status
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
        let infos: Vec<_> = self.core.list(&ns).iter().map(|info| Ok(flight_info(info))).collect();
        Ok(Response::new(Box::pin(futures::stream::iter(infos))))
    }

    async fn get_flight_info(&self, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        let (ns, distributed) = (namespace(&request)?, distributed(&request)?);
        if let Some(info) = self.catalog_info(&ns, request.get_ref()).await? {
            return Ok(Response::new(info));
        }
        let id = self.resolve(&ns, request.into_inner(), distributed).await?;
        self.describe(&ns, id).map(Response::new)
    }

    async fn poll_flight_info(&self, _request: Request<FlightDescriptor>) -> Result<Response<PollInfo>, Status> {
        Err(status(CoreError::Unimplemented(
            "PollFlightInfo is not supported: GetFlightInfo answers at once (a plan runs when it is fetched)".into(),
        )))
    }

    async fn get_schema(&self, request: Request<FlightDescriptor>) -> Result<Response<SchemaResult>, Status> {
        let (ns, distributed) = (namespace(&request)?, distributed(&request)?);
        if let Some(info) = self.catalog_info(&ns, request.get_ref()).await? {
            return Ok(Response::new(SchemaResult { schema: info.schema }));
        }
        let descriptor = request.get_ref();
        if descriptor.r#type == DescriptorType::Cmd as i32 && crate::flight_sql::is_change_command(&descriptor.cmd) {
            return Err(invalid("a change (INSERT, CREATE, DROP, TRUNCATE) has no result schema before it runs (it answers the count of rows stored): execute it"));
        }
        let id = self.resolve(&ns, request.into_inner(), distributed).await?;
        let entry = self.core.handle(&ns, id).or_status()?;
        Ok(Response::new(SchemaResult { schema: ipc_schema(entry.schema()) }))
    }

    type DoGetStream = BoxStream<FlightData>;

    /// The server answers DoGet with [`routes`]' parts; this is the same
    /// stream as FlightData messages, for a plain `FlightServiceServer`.
    async fn do_get(&self, request: Request<Ticket>) -> Result<Response<Self::DoGetStream>, Status> {
        self.serve_ticket(request, flight_data, |data| data).await.map(Response::new)
    }

    type DoPutStream = BoxStream<PutResult>;

    async fn do_put(&self, request: Request<Streaming<FlightData>>) -> Result<Response<Self::DoPutStream>, Status> {
        let ns = namespace(&request)?;
        let (descriptor, chunks) = self.receive_upload(request.into_inner()).await?;
        let app_metadata = match descriptor {
            // Flight SQL: parameters of a prepared query, or a bulk ingest.
            Some(d) if d.r#type == DescriptorType::Cmd as i32 && crate::flight_sql::is_command(&d.cmd) => {
                let command = crate::flight_sql::command(&d.cmd).map_err(status)?;
                self.core.run(move |core, cancel| crate::flight_sql::put(core, &ns, command, chunks, cancel)).await.map_err(status)?
            },
            // An upload, named by its path descriptor (if it has one).
            descriptor => {
                let name = match descriptor {
                    Some(d) if d.r#type == DescriptorType::Path as i32 => d.path.first().cloned().unwrap_or_default(),
                    _ => String::new(),
                };
                let info = self.core.run(move |core, _| core.upload(&ns, &name, chunks)).await.map_err(status)?;
                Bytes::from(info.id.to_string())
            },
        };
        let result = PutResult { app_metadata };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(result)]))))
    }

    type DoExchangeStream = BoxStream<FlightData>;

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(status(CoreError::Unimplemented("DoExchange is not supported: DoPut a table, then DoGet the result".into())))
    }

    type DoActionStream = BoxStream<arrow_flight::Result>;

    async fn do_action(&self, request: Request<Action>) -> Result<Response<Self::DoActionStream>, Status> {
        let ns = namespace(&request)?;
        let distributed = distributed(&request)?;
        let action = request.into_inner();
        if action.r#type == "plan" {
            let plan = action.body;
            let info = self.core.run(move |core, _| core.ship_plan(&ns, &plan, &Default::default(), "", "")).await;
            let result = arrow_flight::Result { body: Bytes::from(info.map_err(status)?.id.to_string()) };
            return Ok(Response::new(Box::pin(futures::stream::iter([Ok(result)]))));
        }
        let result_body = match action.r#type.as_str() {
            crate::flight_sql::CREATE_PREPARED => {
                let body = action.body;
                let prepare = move |core: &Core, _: &_| crate::flight_sql::prepare(core, &ns, &body, distributed);
                Some(self.core.run(prepare).await.map_err(status)?)
            },
            crate::flight_sql::CLOSE_PREPARED => {
                crate::flight_sql::close(&action.body).map_err(status)?;
                None
            },
            _ => {
                let body = utf8(&action.body, &format!("the body of action {:?}", action.r#type))?;
                let result_body = self.act(ns, &action.r#type, body, distributed).await?;
                result_body.map(String::into_bytes)
            },
        };
        let results: Vec<_> = result_body.into_iter().map(|b| Ok(arrow_flight::Result { body: Bytes::from(b) })).collect();
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

#[cfg(test)]
mod tests {
    use polaroid_core::ipc::{EncodedMessage, IpcEncoder};
    use polars::prelude::*;
    use prost::Message;

    use super::*;

    #[test]
    fn flight_data_parts_are_what_prost_writes_for_the_same_flight_data() {
        let df = df!(
            "id" => (0..50_000i64).collect::<Vec<_>>(),
            "s" => (0..50_000).map(|i| format!("s{i}")).collect::<Vec<_>>(),
        )
        .unwrap();
        let (mut encoder, schema) = IpcEncoder::start(df.schema(), 1 << 20, None);
        let mut messages: Vec<EncodedMessage> = vec![schema];
        encoder
            .encode(&df, &mut |batch| {
                messages.extend(batch.messages);
                true
            })
            .unwrap();
        assert!(messages.len() > 2 && messages.iter().any(|m| m.body.len() > 1), "expected batches in parts");
        for message in messages {
            let generated = flight_data(message.clone()).encode_to_vec();
            assert_eq!(flight_data_parts(message).concat(), generated);
        }
    }
}
