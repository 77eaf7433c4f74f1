//! Polaroid's PostgreSQL wire door, QuestDB's port 8812: psql, psycopg,
//! asyncpg, JDBC, pgx, node-postgres — PostgreSQL's drivers, and Grafana —
//! run QuestDB's SQL (`polaroid-questdb`, the HTTP door's dialect: SAMPLE BY,
//! LATEST ON, ASOF JOIN, CREATE TABLE, INSERT, ...) over the core.
//!
//! The protocol itself is the `pgwire` crate's; this crate is the thin
//! layer between it and the core:
//!
//! - `startup.rs`: who is calling. With `--auth-token`, the password is
//!   the token (as the HTTP door takes it in Basic auth); without, anyone.
//! - `session.rs`: BEGIN/COMMIT, SET, SHOW, `version()`, and the session's
//!   functions inside any query (`current_setting('x')`, `current_user`).
//! - `params.rs`: a bound portal's values, written into the query as
//!   literals by the core's `sql_parameters` (as Flight SQL binds them).
//! - `encode.rs`: polars' types as PostgreSQL's, rows in text or binary.
//! - `catalog.rs`: `pg_type`, `pg_class`, `pg_attribute`, `pg_namespace`,
//!   ..., as drivers read them (ADBC's type resolver, the JDBC driver's
//!   `DatabaseMetaData`); `empty.rs`, the relations with no rows here;
//!   `arrays.rs`, PostgreSQL's arrays over constants (Grafana's and the
//!   JDBC driver's walks of the search path).
//! - `cursor.rs`: `DECLARE ... CURSOR FOR`, `FETCH`, `MOVE`, `CLOSE`
//!   (psycopg's named cursors, SQLAlchemy's `stream_results`).
//! - `copy.rs`: `COPY (query) TO STDOUT` in binary, text or CSV (the bulk
//!   read of connectorx and ADBC, behind polars' `read_database_uri`).
//! - `load.rs`: `COPY table FROM STDIN` (ADBC's ingest, behind polars'
//!   `write_database`; psycopg's and psql's copy).
//! - `error.rs`: the core's errors as SQLSTATEs.

mod arrays;
mod catalog;
mod copy;
mod cursor;
mod empty;
mod encode;
mod error;
mod infer;
mod load;
mod params;
mod session;
mod startup;

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::{stream, Sink, SinkExt, StreamExt};
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::{send_describe_response, send_query_response, send_ready_for_query, ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{CopyResponse, DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse, Response};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, MemPortalStore, PortalStore};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::copy::CopyHandler;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionHandle, ConnectionManager, PgWireConnectionState, PgWireServerHandlers, Type, DEFAULT_NAME};
use pgwire::messages::extendedquery::{Close, CloseComplete, Describe, Execute, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT};
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::simplequery::Query;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use polaroid_core::results::{ResultSink, Window};
use polaroid_core::sql_parameters::bind_one;
use polaroid_core::{Core, Namespace};
use polaroid_questdb::{Changed, Kind};
use polars::prelude::*;
use tokio::net::TcpListener;

use crate::copy::{Copy, CopyIn, CopyOut, CopySink};
use crate::cursor::{Cursor, CursorStatement, Cursors};
use crate::error::to_pg;
use crate::params::Statement;
use crate::session::{Answer, Session};

/// Serve the PostgreSQL door on `listener` until `shutdown` resolves.
/// Each connection is its own task; a connection's failure is its own.
pub async fn serve(
    core: Arc<Core>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(listen = %listener.local_addr()?, "PostgreSQL wire door serving (QuestDB's SQL)");
    // Cancel requests (psql's Ctrl-C, psycopg's cancel()) find their
    // connection's running statement through the manager.
    let connections = Arc::new(ConnectionManager::new());
    let handlers = Arc::new(Handlers {
        door: Arc::new(Door { core: core.clone() }),
        startup: Arc::new(startup::Startup::new(core, connections.clone())),
        cancel: Arc::new(DefaultCancelHandler::new(connections)),
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("PostgreSQL door: accept failed: {e}");
                        continue;
                    },
                };
                let handlers = handlers.clone();
                tokio::spawn(async move {
                    if let Err(e) = pgwire::tokio::process_socket(socket, None, handlers).await {
                        tracing::debug!(%peer, "PostgreSQL connection ended: {e}");
                    }
                });
            },
        }
    }
}

struct Handlers {
    door: Arc<Door>,
    startup: Arc<startup::Startup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.door.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.door.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.startup.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }

    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        self.door.clone()
    }
}

/// The door: what each statement of either protocol becomes.
struct Door {
    core: Arc<Core>,
}

/// What a connection has SET that this server acts on.
#[derive(Default)]
struct Settings {
    /// `SET statement_timeout`: a query running longer is stopped (57014).
    statement_timeout: Mutex<Option<Duration>>,
    /// Who connected, to which database, as the startup message said.
    user: String,
    database: String,
    /// The COPY FROM STDIN under way, between its statement and CopyDone.
    copy_in: Mutex<Option<load::Pending>>,
    /// Where a cancel request for this connection arrives.
    connection: Option<Arc<ConnectionHandle>>,
    /// The cursors DECLAREd and not yet closed.
    cursors: Mutex<Cursors>,
}

impl Settings {
    /// The connection's settings, made from its startup message the first
    /// time they are asked for.
    fn of<C: ClientInfo>(client: &C) -> Arc<Settings> {
        let extensions = client.session_extensions();
        if let Some(settings) = extensions.get::<Settings>() {
            return settings;
        }
        let said = |key: &str| client.metadata().get(key).cloned().unwrap_or_default();
        let user = said("user");
        // PostgreSQL's default database is the user's name.
        let database = Some(said("database")).filter(|d| !d.is_empty()).unwrap_or_else(|| user.clone());
        let connection = extensions.get::<Arc<ConnectionHandle>>().map(|handle| (*handle).clone());
        extensions.get_or_insert_with(|| Settings { user, database, connection, ..Settings::default() })
    }

    fn timeout(&self) -> Option<Duration> {
        *self.statement_timeout.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The open cursors; never held across an await.
    fn cursors(&self) -> std::sync::MutexGuard<'_, Cursors> {
        self.cursors.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether the connection is inside a transaction block (a failed one too).
fn in_block<C: ClientInfo>(client: &C) -> bool {
    !matches!(client.transaction_status(), TransactionStatus::Idle)
}

/// The caller's namespace, set when the connection authenticated.
fn namespace<C: ClientInfo>(client: &C) -> PgWireResult<Namespace> {
    client
        .session_extensions()
        .get::<Namespace>()
        .map(|ns| (*ns).clone())
        .ok_or_else(|| error::user("28000", "the connection has not authenticated"))
}

impl Door {
    /// Run one statement with `values` bound to its placeholders, its
    /// result's columns in `format`; counted in the metrics by what it is
    /// (query, change, session, cursor) and its SQLSTATE, timed to its
    /// first rows. `block`: the statement is inside a transaction block.
    async fn run(
        &self,
        settings: &Settings,
        ns: Namespace,
        sql: String,
        values: Option<DataFrame>,
        format: &Format,
        block: bool,
    ) -> PgWireResult<Response> {
        let started = Instant::now();
        let session = Session::of(&sql);
        let route = match (&session, polaroid_questdb::kind(&sql)) {
            (Ok(Some(_)) | Err(_), _) => "session",
            _ if CursorStatement::is(&sql) => "cursor",
            _ if copy::is_copy(&sql) => "copy",
            (_, Kind::Query) => "query",
            _ => "change",
        };
        let result = match session {
            Ok(Some(statement)) => self.session(settings, statement, format),
            Ok(None) => match CursorStatement::of(&sql) {
                Ok(Some(statement)) => self.cursor(settings, ns, &sql, statement, values, format, block).await,
                Ok(None) => self.execute(settings, ns, sql, values, format).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        self.core.metrics().request("pgwire", route, sqlstate_of(&result), started.elapsed());
        result
    }

    /// Answer a session statement (BEGIN, SET, SHOW, ...).
    fn session(&self, settings: &Settings, statement: Session, format: &Format) -> PgWireResult<Response> {
        Ok(match statement {
            Session::Begin => Response::TransactionStart(statement.tag()),
            Session::Commit | Session::Rollback => {
                settings.cursors().end_block(matches!(statement, Session::Commit));
                Response::TransactionEnd(statement.tag())
            },
            Session::Done("DISCARD ALL") => {
                settings.cursors().close(None)?;
                Response::Execution(statement.tag())
            },
            Session::Done(_) => Response::Execution(statement.tag()),
            Session::Set { ref name, ref value } => {
                // Other settings are taken and left alone (drivers send
                // DateStyle, extra_float_digits, application_name ...).
                if name == "statement_timeout" || name == "all" {
                    let timeout = value.as_deref().map(session::statement_timeout).transpose()?.flatten();
                    *settings.statement_timeout.lock().unwrap_or_else(|p| p.into_inner()) = timeout;
                }
                Response::Execution(statement.tag())
            },
            Session::Value { ref value, shown, .. } => {
                let value = match value {
                    Answer::Text(text) => text.clone(),
                    Answer::User => settings.user.clone(),
                    Answer::Database => settings.database.clone(),
                    Answer::StatementTimeout => settings.timeout().map_or("0".into(), |t| format!("{}ms", t.as_millis())),
                };
                let fields = Arc::new(statement.fields(format));
                let mut encoder = pgwire::api::results::DataRowEncoder::new(fields.clone());
                encoder.encode_field(&value.as_str())?;
                let row = encoder.take_row();
                let mut response = QueryResponse::new(fields, stream::iter([Ok(row)]));
                response.set_command_tag(if shown { "SHOW" } else { "SELECT" });
                Response::Query(response)
            },
        })
    }

    /// Run a query or a change (not a session statement).
    async fn execute(
        &self,
        settings: &Settings,
        ns: Namespace,
        sql: String,
        values: Option<DataFrame>,
        format: &Format,
    ) -> PgWireResult<Response> {
        match Copy::parse(&sql)? {
            // Alone in a query or an Execute, a COPY is sent by `send_copy`;
            // here it is one of several statements of a simple query.
            Some(Copy::Out(copy)) => return Ok(self.copy_out(settings, ns, copy).await?.into_response()),
            Some(Copy::In(copy)) => return self.copy_in(settings, ns, copy).await,
            None => {},
        }
        match polaroid_questdb::kind(&sql) {
            Kind::Query => {
                let sql = bind_one(&sql, values.as_ref()).map_err(to_pg)?;
                self.query(settings, ns, sql, format).await
            },
            kind => {
                let tag = match &kind {
                    Kind::Create => "CREATE TABLE",
                    Kind::Drop => "DROP TABLE",
                    // PostgreSQL's tag for ALTER TABLE ... RENAME TO.
                    Kind::Alter | Kind::Rename => "ALTER TABLE",
                    Kind::Truncate => "TRUNCATE TABLE",
                    _ => "INSERT",
                };
                let changed = self.core.run(move |core, cancel| {
                    polaroid_questdb::change(core, &ns, &sql, kind, values.as_ref(), cancel)
                })
                .await;
                Ok(Response::Execution(match changed.map_err(to_pg)? {
                    Changed::Definition => pgwire::api::results::Tag::new(tag),
                    // PostgreSQL's INSERT tag carries an oid, always 0 now.
                    Changed::Inserted(rows) => pgwire::api::results::Tag::new("INSERT").with_oid(0).with_rows(rows as usize),
                }))
            },
        }
    }

    /// A query's plan, checked as every door's (confined to the data
    /// directory), and the row description it will be sent with.
    async fn plan(
        &self,
        settings: &Settings,
        ns: Namespace,
        sql: String,
        format: &Format,
        deadline: Option<Instant>,
    ) -> PgWireResult<(Arc<polaroid_core::Entry>, Vec<FieldInfo>)> {
        let connection = catalog::Connection {
            user: settings.user.clone(),
            database: settings.database.clone(),
            cursors: settings.cursors().listing(),
        };
        let work = self.core.run(move |core, _| {
            let (lf, _tables) = catalog::plan(core, &ns, &sql, &connection)?;
            core.prepare_plan(&ns, lf, format!("pgwire({sql:?})"))
        });
        let entry = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), work).await.unwrap_or_else(|_| Err(timed_out())),
            None => work.await,
        }
        .map_err(to_pg)?;
        let fields = encode::fields(entry.schema(), format).map_err(to_pg)?;
        Ok((entry, fields))
    }

    async fn query(&self, settings: &Settings, ns: Namespace, sql: String, format: &Format) -> PgWireResult<Response> {
        let deadline = settings.timeout().map(|t| Instant::now() + t);
        let (entry, fields) = self.plan(settings, ns, sql, format, deadline).await?;
        let fields = Arc::new(fields);
        let rows = self.stream(settings, entry, encode::RowSink::new(fields.clone()), deadline).await?;
        Ok(Response::Query(QueryResponse::new(fields, rows)))
    }

    /// `COPY (query) TO STDOUT`: the query's rows as COPY data.
    async fn copy_out(&self, settings: &Settings, ns: Namespace, copy: CopyOut) -> PgWireResult<CopyStream> {
        let deadline = settings.timeout().map(|t| Instant::now() + t);
        let format = if copy.format == copy::CopyFormat::Binary { Format::UnifiedBinary } else { Format::UnifiedText };
        let (entry, fields) = self.plan(settings, ns, copy.query, &format, deadline).await?;
        let columns = fields.len();
        let lines = self.stream(settings, entry, CopySink::new(Arc::new(fields), copy.format.clone()), deadline).await?;
        Ok(CopyStream { format: copy.format.code(), columns, lines: Box::pin(lines) })
    }

    /// Run a `COPY ... TO STDOUT` and send its data, as PostgreSQL does: a
    /// CopyOutResponse, a CopyData per row, CopyDone and `COPY n`. An error
    /// once data has gone (a cancel, a failure in later rows) is an
    /// ErrorResponse in their place; pgwire's own sending put a CopyFail,
    /// the client's message, before it, which clients misread.
    async fn send_copy<C>(&self, client: &mut C, copy: CopyOut) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let started = Instant::now();
        let settings = Settings::of(client);
        let sent = async {
            let ns = namespace(client)?;
            let copy = or_cancel(settings.connection.clone(), self.copy_out(&settings, ns, copy)).await?;
            let CopyStream { format, columns, mut lines } = copy;
            let response = pgwire::messages::copy::CopyOutResponse::new(format, columns as i16, vec![format as i16; columns]);
            client.feed(PgWireBackendMessage::CopyOutResponse(response)).await?;
            let mut rows = 0;
            while let Some(line) = lines.next().await {
                let line = line?;
                rows += usize::from(line.row);
                client.feed(PgWireBackendMessage::CopyData(line.data)).await?;
            }
            client.feed(PgWireBackendMessage::CopyDone(CopyDone::new())).await?;
            let tag = pgwire::api::results::Tag::new("COPY").with_rows(rows);
            client.feed(PgWireBackendMessage::CommandComplete(tag.into())).await?;
            Ok(())
        }
        .await;
        self.core.metrics().request("pgwire", "copy", sqlstate_of(&sent), started.elapsed());
        sent
    }

    /// `COPY table FROM STDIN`: the table and columns are checked now,
    /// then the client sends its data (`CopyHandler` below).
    async fn copy_in(&self, settings: &Settings, ns: Namespace, copy: CopyIn) -> PgWireResult<Response> {
        let checked = (ns.clone(), copy.clone());
        let columns = self.core.run(move |core, _| load::targets(core, &checked.0, &checked.1)).await.map_err(to_pg)?.len();
        let format = copy.format.code();
        let pending = load::Pending { ns, copy, data: bytes::BytesMut::new(), overflowed: false };
        *settings.copy_in.lock().unwrap_or_else(|p| p.into_inner()) = Some(pending);
        Ok(Response::CopyIn(CopyResponse::new(format, columns, stream::empty())))
    }

    /// DECLARE, FETCH, MOVE and CLOSE (`cursor.rs`). `sql` is the statement
    /// as written; `block`: it is inside a transaction block, where a
    /// cursor without HOLD may live.
    #[allow(clippy::too_many_arguments)]
    async fn cursor(
        &self,
        settings: &Settings,
        ns: Namespace,
        sql: &str,
        statement: CursorStatement,
        values: Option<DataFrame>,
        format: &Format,
        block: bool,
    ) -> PgWireResult<Response> {
        use pgwire::api::results::Tag;
        match statement {
            CursorStatement::Declare(declare) => {
                if !declare.hold && !block {
                    return Err(error::user(
                        "25P01",
                        "DECLARE CURSOR can only be used in transaction blocks (BEGIN first, or declare it WITH HOLD)",
                    ));
                }
                if settings.cursors().exists(&declare.name) {
                    return Err(cursor::already_exists(&declare.name));
                }
                let query = declare.query.as_str();
                let a_query = matches!(Session::of(query), Ok(None))
                    && !copy::is_copy(query)
                    && !CursorStatement::is(query)
                    && matches!(polaroid_questdb::kind(query), Kind::Query);
                if !a_query {
                    return Err(error::user("42601", "a cursor is declared FOR a query (SELECT, or QuestDB's shorthand), not another statement"));
                }
                // The query is planned now, so its errors are the DECLARE's;
                // it runs from now on, as far as the stream's window lets it.
                let query = bind_one(query, values.as_ref()).map_err(to_pg)?;
                let deadline = settings.timeout().map(|t| Instant::now() + t);
                let (entry, _) = self.plan(settings, ns, query, &Format::UnifiedText, deadline).await?;
                let schema = entry.schema().clone();
                let slot = self.core.slot().await.map_err(to_pg)?;
                let frames = self.core.stream_until(entry, Window::default(), cursor::FrameSink, slot, None);
                settings.cursors().insert(Cursor::new(declare, sql.to_string(), schema, frames, block))?;
                Ok(Response::Execution(Tag::new("DECLARE CURSOR")))
            },
            CursorStatement::Fetch { name, direction, moved } => {
                let mut cursor = settings.cursors().take(&name)?;
                // A move back is refused before anything is read, and the
                // cursor stays open.
                if let Err(refused) = cursor.can(direction) {
                    settings.cursors().put(cursor);
                    return Err(refused);
                }
                // Any other failure (the query's, a timeout, a cancel that
                // drops this future) closes the cursor with its rows.
                let fetched = match settings.timeout() {
                    Some(timeout) => tokio::time::timeout(timeout, cursor.fetch(direction))
                        .await
                        .unwrap_or_else(|_| Err(error::user("57014", "canceling statement due to statement timeout"))),
                    None => cursor.fetch(direction).await,
                }?;
                let schema = cursor.schema.clone();
                settings.cursors().put(cursor);
                let count = fetched.iter().map(DataFrame::height).sum::<usize>();
                if moved {
                    return Ok(Response::Execution(Tag::new("MOVE").with_rows(count)));
                }
                let fields = Arc::new(encode::fields(&schema, format).map_err(to_pg)?);
                let encoding = fields.clone();
                // Writing rows is CPU work: off the connection's task.
                let rows = tokio::task::spawn_blocking(move || cursor::rows(encoding, &fetched))
                    .await
                    .map_err(|e| error::user("XX000", format!("writing the fetched rows failed: {e}")))?
                    .map_err(to_pg)?;
                let mut response = QueryResponse::new(fields, stream::iter(rows.into_iter().map(Ok)));
                response.set_command_tag("FETCH");
                Ok(Response::Query(response))
            },
            CursorStatement::Close(name) => {
                settings.cursors().close(name.as_deref())?;
                Ok(Response::Execution(Tag::new(if name.is_some() { "CLOSE CURSOR" } else { "CLOSE CURSOR ALL" })))
            },
        }
    }

    /// The messages of `entry`'s result through `sink`, one by one. The
    /// query's work up to its first rows is awaited here, where a cancel
    /// request (psql's Ctrl-C) drops it: the dropped receiver stops the
    /// work. An error before any row is the statement's error; one after
    /// ends the stream with an ErrorResponse in place of the CommandComplete,
    /// and so does a cancel request while the rows stream.
    async fn stream<S, M>(
        &self,
        settings: &Settings,
        entry: Arc<polaroid_core::Entry>,
        sink: S,
        deadline: Option<Instant>,
    ) -> PgWireResult<impl futures::Stream<Item = PgWireResult<M>> + Send + 'static>
    where
        S: ResultSink<Message = Vec<M>>,
        M: Send + 'static,
    {
        let slot = self.core.slot().await.map_err(to_pg)?;
        let mut rx = self.core.stream_until(entry, Window::default(), sink, slot, deadline);
        let first = match rx.recv().await {
            Some(Ok(messages)) => messages,
            Some(Err(e)) => return Err(to_pg(e)),
            None => Vec::new(),
        };
        let rest = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|batch| (batch, rx)) });
        let messages = stream::iter([Ok(first)]).chain(rest).flat_map(|batch| match batch {
            Ok(messages) => stream::iter(messages.into_iter().map(Ok).collect::<Vec<_>>()),
            Err(e) => stream::iter(vec![Err(to_pg(e))]),
        });
        Ok(cancellable(messages, settings.connection.clone()))
    }

    /// A FETCH or MOVE of a portal the protocol bound rather than a DECLAREd
    /// cursor (PostgreSQL names both in one namespace): asyncpg's
    /// `Cursor.forward(n)` is `MOVE FORWARD n <portal>` on the portal its
    /// row-limited Executes read. `None`: `sql` is not one.
    async fn protocol_portal<C>(&self, client: &C, settings: &Settings, sql: &str) -> Option<PgWireResult<Response>>
    where
        C: ClientPortalStore,
        C::PortalStore: PortalStore,
    {
        let started = Instant::now();
        let Ok(Some(CursorStatement::Fetch { name, direction, moved })) = CursorStatement::of(sql) else { return None };
        if settings.cursors().exists(&name) {
            return None;
        }
        let store = client.portal_store().as_any().downcast_ref::<MemPortalStore<Statement>>()?;
        let Some(Entry::Value(portal)) = store.get_portal(&name) else { return None };
        let response = async {
            let rows = match direction {
                cursor::Direction::Forward(n) if n > 0 => n as usize,
                // pgwire's fetch of 0 rows is every row left.
                cursor::Direction::All => 0,
                _ => return Err(cursor::backward()),
            };
            let mut fetched = portal.fetch(rows).await?.response;
            if moved {
                let count = fetched.data_rows().count().await;
                return Ok(Response::Execution(pgwire::api::results::Tag::new("MOVE").with_rows(count)));
            }
            fetched.set_command_tag("FETCH");
            Ok(Response::Query(fetched))
        }
        .await;
        self.core.metrics().request("pgwire", "cursor", sqlstate_of(&response), started.elapsed());
        Some(response)
    }

    /// The columns `sql` answers with (`values` bound), without running it.
    async fn describe(
        &self,
        settings: &Settings,
        ns: Namespace,
        sql: String,
        values: Option<DataFrame>,
        format: &Format,
    ) -> PgWireResult<Vec<FieldInfo>> {
        if let Some(session) = Session::of(&sql)? {
            return Ok(session.fields(format));
        }
        // A FETCH answers with its cursor's columns; DECLARE, MOVE and
        // CLOSE with none.
        if let Some(statement) = CursorStatement::of(&sql)? {
            let CursorStatement::Fetch { name, moved: false, .. } = statement else { return Ok(Vec::new()) };
            let (schema, _) = settings.cursors().schema(&name).ok_or_else(|| cursor::missing(&name))?;
            return encode::fields(&schema, format).map_err(to_pg);
        }
        // COPY answers with CopyOutResponse, not rows: NoData. Its errors
        // are found here already.
        if Copy::parse(&sql)?.is_some() {
            return Ok(Vec::new());
        }
        match polaroid_questdb::kind(&sql) {
            Kind::Query => {
                let sql = bind_one(&sql, values.as_ref()).map_err(to_pg)?;
                Ok(self.plan(settings, ns, sql, format, None).await?.1)
            },
            _ => Ok(Vec::new()),
        }
    }
}

/// The SQLSTATE a statement's outcome is counted under in the metrics.
fn sqlstate_of<T>(result: &PgWireResult<T>) -> &str {
    match result {
        Ok(_) => "00000",
        Err(PgWireError::UserError(info)) => info.code.as_str(),
        Err(PgWireError::QueryCanceled) => "57014",
        Err(_) => "XX000",
    }
}

/// A COPY's data, ready to send.
struct CopyStream {
    format: i8,
    columns: usize,
    lines: std::pin::Pin<Box<dyn futures::Stream<Item = PgWireResult<copy::CopyLine>> + Send>>,
}

impl CopyStream {
    /// As pgwire sends a COPY. The sink writes binary's trailer (in one
    /// message with the header when there are no rows), so the one
    /// `CopyResponse::new` adds is replaced by the sink's stream.
    fn into_response(self) -> Response {
        let mut response = CopyResponse::new(self.format, self.columns, stream::empty());
        *response.data_stream() = Box::pin(self.lines.map(|line| line.map(|line| line.data)));
        Response::CopyOut(response)
    }
}

/// `work`, stopped by a cancel request for the connection (as pgwire stops
/// a query handler's work).
async fn or_cancel<T>(connection: Option<Arc<ConnectionHandle>>, work: impl Future<Output = PgWireResult<T>>) -> PgWireResult<T> {
    let Some(connection) = connection else { return work.await };
    let cancel = connection.start_query().await;
    match futures::future::select(std::pin::pin!(work), cancel).await {
        futures::future::Either::Left((done, _)) => done,
        futures::future::Either::Right(_) => Err(PgWireError::QueryCanceled),
    }
}

/// `rows`, ended by a cancel request that arrives while they stream, with
/// PostgreSQL's error for it. pgwire listens for a cancel only until the
/// handler returns its response; the stream listens from its first poll,
/// when pgwire has stopped, to its end. Dropping the rows stops the query.
fn cancellable<M: Send + 'static>(
    rows: impl futures::Stream<Item = PgWireResult<M>> + Send + 'static,
    connection: Option<Arc<ConnectionHandle>>,
) -> impl futures::Stream<Item = PgWireResult<M>> + Send + 'static {
    enum State<R> {
        Start(R, Option<Arc<ConnectionHandle>>),
        Listening(R, futures::channel::oneshot::Receiver<()>),
        Deaf(R),
        Done,
    }
    let rows = Box::pin(rows);
    stream::unfold(State::Start(rows, connection), |state| async move {
        let (mut rows, mut cancel) = match state {
            State::Start(rows, Some(connection)) => (rows, connection.start_query().await),
            State::Start(mut rows, None) | State::Deaf(mut rows) => return rows.next().await.map(|item| (item, State::Deaf(rows))),
            State::Listening(rows, cancel) => (rows, cancel),
            State::Done => return None,
        };
        // The cancel is polled first: rows already produced are always
        // ready, and would otherwise be sent to the end before it is seen.
        let outcome = match futures::future::select(&mut cancel, rows.next()).await {
            futures::future::Either::Left((fired, _)) => Err(fired.is_ok()),
            futures::future::Either::Right((item, _)) => Ok(item),
        };
        match outcome {
            Ok(item) => item.map(|item| (item, State::Listening(rows, cancel))),
            Err(true) => Some((Err(error::user("57014", "canceling statement due to user request")), State::Done)),
            // The sender was dropped without a cancel: none can come now.
            Err(false) => rows.next().await.map(|item| (item, State::Deaf(rows))),
        }
    })
}

/// Whether an Execute of `sql` streams its rows (`on_execute`): a query,
/// not a session statement, a change, a cursor statement or a COPY.
fn streams(sql: &str) -> bool {
    matches!(Session::of(sql), Ok(None))
        && !copy::is_copy(sql)
        && !CursorStatement::is(sql)
        && matches!(polaroid_questdb::kind(sql), Kind::Query)
}

fn timed_out() -> polaroid_core::CoreError {
    polaroid_core::CoreError::DeadlineExceeded("canceling statement due to statement timeout (while planning)".into())
}

/// A portal's values, one row, if it has any.
fn values(portal: &Portal<Statement>) -> PgWireResult<Option<DataFrame>> {
    if portal.parameter_len() == 0 {
        return Ok(None);
    }
    params::values(portal).map(Some)
}

/// The statements of a simple query, split at the semicolons outside
/// quotes and comments.
fn statements(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let (mut parts, mut start, mut i) = (Vec::new(), 0, 0);
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                i += 1;
                // A doubled quote inside is the quote itself.
                while i < bytes.len() && !(bytes[i] == quote && bytes.get(i + 1) != Some(&quote)) {
                    i += if bytes[i] == quote { 2 } else { 1 };
                }
            },
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            },
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            },
            b';' => {
                parts.push(&sql[start..i]);
                start = i + 1;
            },
            _ => {},
        }
        i += 1;
    }
    parts.push(&sql[start.min(sql.len())..]);
    parts.into_iter().filter(|s| !blank(s)).collect()
}

/// Whether a statement is nothing but white space and comments, as pgx's
/// ping (`-- ping`, what pgxpool and Grafana send before a pooled
/// connection is reused) is. PostgreSQL answers such a query with
/// EmptyQueryResponse; pgwire does only for white space and semicolons.
fn blank(sql: &str) -> bool {
    let mut rest = sql.trim_start();
    loop {
        if rest.is_empty() {
            return true;
        }
        rest = if let Some(line) = rest.strip_prefix("--") {
            line.find('\n').map_or("", |end| &line[end..])
        } else if let Some(block) = rest.strip_prefix("/*") {
            match block.find("*/") {
                Some(end) => &block[end + 2..],
                None => return false,
            }
        } else {
            return false;
        }
        .trim_start();
    }
}

#[async_trait]
impl SimpleQueryHandler for Door {
    /// A query that is one `COPY ... TO STDOUT` is sent by `send_copy`;
    /// anything else is pgwire's, through `do_query`.
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let copy = match statements(&query.query).as_slice() {
            [one] => Copy::parse(one.trim()).ok().flatten(),
            _ => None,
        };
        let Some(Copy::Out(copy)) = copy else { return self._on_query(client, query).await };
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return self._on_query(client, query).await;
        }
        let status = client.transaction_status();
        client.set_state(PgWireConnectionState::QueryInProgress);
        // An error is answered by pgwire's connection loop: ErrorResponse,
        // then ReadyForQuery.
        self.send_copy(client, copy).await?;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        send_ready_for_query(client, status).await
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let ns = namespace(client)?;
        let settings = Settings::of(client);
        let mut responses = Vec::new();
        // Several statements in one query are a transaction block of their
        // own (PostgreSQL's implicit block): a cursor may be declared in it
        // without HOLD, and lives until the query ends.
        let statements = statements(query);
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let implicit = statements.len() > 1;
        let mut explicit = in_block(client);
        let mut failed = false;
        // As PostgreSQL: the statements run in turn, and the first error
        // ends the query (the rest do not run).
        for sql in statements {
            let sql = sql.trim();
            let response = match self.protocol_portal(client, &settings, sql).await {
                Some(moved) => moved,
                None => self.run(&settings, ns.clone(), sql.to_string(), None, &Format::UnifiedText, explicit || implicit).await,
            };
            match response {
                Ok(response) => {
                    match &response {
                        Response::TransactionStart(_) => explicit = true,
                        Response::TransactionEnd(_) => explicit = false,
                        _ => {},
                    }
                    responses.push(response);
                },
                Err(PgWireError::UserError(info)) => {
                    responses.push(Response::Error(info));
                    failed = true;
                    break;
                },
                Err(other) => return Err(other),
            }
        }
        if implicit && !explicit {
            settings.cursors().end_block(!failed);
        }
        Ok(responses)
    }
}

/// Reads a Parse message into a [`Statement`]: its text, and its
/// parameters' types (the client's, the query's casts, then what they are
/// compared with or stored into). Nothing runs until an Execute.
struct Parser {
    core: Arc<Core>,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Statement;

    async fn parse_sql<C>(&self, client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        // No statement is stored as pgwire stores an empty one: Describe
        // answers NoData, Execute EmptyQueryResponse.
        if blank(sql) {
            return Ok(None);
        }
        let mut statement = Statement::new(sql.trim(), types).map_err(to_pg)?;
        if statement.parameter_types.contains(&Type::UNKNOWN) {
            // A DECLARE's parameters are its query's.
            let query = match CursorStatement::of(&statement.sql) {
                Ok(Some(CursorStatement::Declare(declare))) => declare.query,
                _ => statement.sql.clone(),
            };
            if let (Some(source), Ok(ns)) = (infer::source(&query), namespace(client)) {
                // A query whose tables cannot be read yet keeps text; its
                // execution says what is wrong.
                let inferred = self.core.run(move |core, _| infer::types(core, &ns, &source)).await.unwrap_or_default();
                for (index, dtype) in inferred {
                    let slot = statement.parameter_types.get_mut(index);
                    if let (Some(slot @ &mut Type::UNKNOWN), Ok(ty)) = (slot, encode::pg_type("", &dtype)) {
                        *slot = ty;
                    }
                }
            }
        }
        Ok(Some(statement))
    }

    fn get_parameter_types(&self, statement: &Statement) -> PgWireResult<Vec<Type>> {
        Ok(statement.described_types())
    }

    fn get_result_schema(&self, _statement: &Statement, _format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl ExtendedQueryHandler for Door {
    type Statement = Statement;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        Arc::new(Parser { core: self.core.clone() })
    }

    /// pgwire's Execute gathers every row of a portal before it sends the
    /// first, so that it can stop at a row limit. A query executed with no
    /// limit (what drivers send: psycopg, asyncpg, connectorx's cursor)
    /// streams instead, as in the simple protocol: its rows go out as the
    /// query makes them, and the server holds a batch rather than the whole
    /// result. Anything else (a limit, a change, COPY) is pgwire's Execute.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let (portal, copy) = match client.portal_store().get_portal(name) {
            Some(Entry::Value(portal)) if message.max_rows == 0 => match Copy::parse(&portal.statement.statement.sql) {
                Ok(Some(Copy::Out(copy))) => (portal, Some(copy)),
                _ if streams(&portal.statement.statement.sql) => (portal, None),
                _ => return self._on_execute(client, message).await,
            },
            _ => return self._on_execute(client, message).await,
        };
        let fresh = matches!(*portal.state().lock().await, PortalExecutionState::Initial);
        if !fresh || !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return self._on_execute(client, message).await;
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        if let Some(copy) = copy {
            self.send_copy(client, copy).await?;
        } else {
            // A cancel request stops the planning and first rows here, as
            // pgwire's Execute does; `cancellable` listens while rows stream.
            let connection = Settings::of(client).connection.clone();
            let response = or_cancel(connection, ExtendedQueryHandler::do_query(self, client, &portal, 0)).await?;
            match response {
                Response::Query(rows) => send_query_response(client, rows, false).await?,
                Response::Error(e) => return Err(PgWireError::UserError(e)),
                _ => return Err(error::user("XX000", "a query answered with something other than rows")),
            }
        }
        // The portal is spent, as pgwire leaves one it has run to its end.
        *portal.state().lock().await = PortalExecutionState::Finished;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        Ok(())
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Statement>, _max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let ns = namespace(client)?;
        let sql = portal.statement.statement.sql.clone();
        let block = in_block(client);
        self.run(&Settings::of(client), ns, sql, values(portal)?, &portal.result_column_format, block).await
    }

    async fn do_describe_statement<C>(&self, client: &mut C, target: &StoredStatement<Statement>) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let ns = namespace(client)?;
        let statement = &target.statement;
        let types = statement.described_types();
        // The columns are those of the query with every parameter null, of
        // its type: the plan's schema does not depend on the values.
        let nulls = if types.is_empty() {
            None
        } else {
            let nulls = types.iter().enumerate().map(|(i, ty)| params::null_of(i, ty)).collect::<Vec<_>>();
            Some(DataFrame::new(1, nulls).map_err(|e| to_pg(e.into()))?)
        };
        let fields = self.describe(&Settings::of(client), ns, statement.sql.clone(), nulls, &Format::UnifiedText).await?;
        Ok(DescribeStatementResponse::new(types, fields))
    }

    async fn do_describe_portal<C>(&self, client: &mut C, portal: &Portal<Statement>) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let ns = namespace(client)?;
        let sql = portal.statement.statement.sql.clone();
        let fields = self.describe(&Settings::of(client), ns, sql, values(portal)?, &portal.result_column_format).await?;
        Ok(DescribePortalResponse::new(fields))
    }

    /// A statement's Describe is answered as PostgreSQL answers it (below).
    /// A portal's Describe may name a DECLAREd cursor (cursors and portals
    /// share one namespace in PostgreSQL): psycopg describes its named
    /// cursor so, right after the DECLARE. Its columns are in the cursor's
    /// format, binary for a BINARY cursor.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        if message.target_type == TARGET_TYPE_BYTE_STATEMENT {
            if let Some(Entry::Value(statement)) = client.portal_store().get_statement(name) {
                let described = self.do_describe_statement(client, &statement).await?;
                if described.fields.is_empty() {
                    // A statement with parameters and no columns (an INSERT)
                    // is ParameterDescription then NoData, as PostgreSQL
                    // answers; pgwire sends an empty RowDescription, which
                    // the JDBC driver reads as a result ("A result was
                    // returned when none was expected" from executeUpdate).
                    let types = described.parameters.iter().map(Type::oid).collect();
                    client.feed(PgWireBackendMessage::ParameterDescription(ParameterDescription::new(types))).await?;
                    return client.send(PgWireBackendMessage::NoData(NoData::new())).await.map_err(Into::into);
                }
                return send_describe_response(client, &described).await;
            }
        }
        if message.target_type == TARGET_TYPE_BYTE_PORTAL && client.portal_store().get_portal(name).is_none() {
            let declared = Settings::of(client).cursors().schema(name);
            if let Some((schema, binary)) = declared {
                let format = if binary { Format::UnifiedBinary } else { Format::UnifiedText };
                let fields = encode::fields(&schema, &format).map_err(to_pg)?;
                return send_describe_response(client, &DescribePortalResponse::new(fields)).await;
            }
        }
        self._on_describe(client, message).await
    }

    /// As pgwire's Close, and a Close of a portal that is a DECLAREd
    /// cursor closes the cursor.
    async fn on_close<C>(&self, client: &mut C, message: Close) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => client.portal_store().rm_statement(name),
            TARGET_TYPE_BYTE_PORTAL if client.portal_store().get_portal(name).is_some() => client.portal_store().rm_portal(name),
            // Closing what does not exist is not an error, as in PostgreSQL.
            TARGET_TYPE_BYTE_PORTAL => drop(Settings::of(client).cursors().close(Some(name))),
            _ => {},
        }
        client.send(PgWireBackendMessage::CloseComplete(CloseComplete::new())).await?;
        Ok(())
    }
}

/// The data of a COPY FROM STDIN, held until CopyDone, then appended at once.
#[async_trait]
impl CopyHandler for Door {
    async fn on_copy_data<C>(&self, client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Some(pending) = Settings::of(client).copy_in.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            pending.push(&copy_data.data);
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let started = Instant::now();
        let pending = Settings::of(client).copy_in.lock().unwrap_or_else(|p| p.into_inner()).take();
        let pending = pending.ok_or_else(|| error::user("08P01", "CopyDone with no COPY FROM STDIN under way"))?;
        let loaded = self.core.run(move |core, _| load::load(core, pending)).await;
        let code = match &loaded {
            Ok(_) => "00000",
            Err(e) => error::sqlstate(e),
        };
        // The COPY statement was counted as route "copy" when it began;
        // its data is counted here as "load", with the load's outcome.
        self.core.metrics().request("pgwire", "load", code, started.elapsed());
        let rows = loaded.map_err(to_pg)?;
        let tag = pgwire::api::results::Tag::new("COPY").with_rows(rows as usize);
        client.send(PgWireBackendMessage::CommandComplete(tag.into())).await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Nothing was appended: the data is dropped with the statement.
        Settings::of(client).copy_in.lock().unwrap_or_else(|p| p.into_inner()).take();
        error::user("57014", format!("COPY from stdin failed: {}", fail.message))
    }
}

#[cfg(test)]
mod tests {
    use super::{blank, statements};

    #[test]
    fn simple_queries_split_at_semicolons_outside_text_and_comments() {
        assert_eq!(statements("SELECT 1; SELECT 2;"), vec!["SELECT 1", " SELECT 2"]);
        assert_eq!(statements("SELECT 'a;b', \"c;\"\"d\" FROM t"), vec!["SELECT 'a;b', \"c;\"\"d\" FROM t"]);
        assert_eq!(statements("SELECT 'it''s; here'; SELECT 3"), vec!["SELECT 'it''s; here'", " SELECT 3"]);
        assert_eq!(statements("SELECT 1 -- a; comment\n; /* b; */ SELECT 2"), vec!["SELECT 1 -- a; comment\n", " /* b; */ SELECT 2"]);
        assert_eq!(statements(";;"), Vec::<&str>::new());
        // Comments alone are no statement (pgx's ping); one after a
        // statement is part of it.
        assert_eq!(statements("-- ping"), Vec::<&str>::new());
        assert_eq!(statements(" /* a; */ -- b\n ; SELECT 1 -- c"), vec![" SELECT 1 -- c"]);
        assert!(!blank("/* never closed"));
        assert!(!blank("-- a\nSELECT 1"));
    }
}
