//! Live sources at run time: `GET /sources` lists the caller's sources and
//! their status, `POST /sources` starts one (the JSON form of a
//! `[[source]]` table), `DELETE /sources/{name}` stops one after it has
//! appended what it has pending.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use polaroid_core::Namespace;
use polaroid_sources::{SourceError, SourceSpec};
use serde_json::json;

use crate::Door;

fn refused(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn source_error(e: SourceError) -> Response {
    let status = match &e {
        SourceError::Invalid(_) => StatusCode::BAD_REQUEST,
        SourceError::AlreadyRunning(_) => StatusCode::CONFLICT,
        SourceError::NotFound(_) => StatusCode::NOT_FOUND,
        SourceError::Core(c) => crate::http_status(c),
    };
    refused(status, e.to_string())
}

/// The caller's namespace, or the refusal to answer with.
fn caller(door: &Door, headers: &HeaderMap) -> Result<Namespace, Response> {
    crate::auth::namespace(&door.core, headers).map_err(|e| refused(crate::http_status(&e), e.to_string()))
}

pub async fn list(State(door): State<Door>, headers: HeaderMap) -> Response {
    match caller(&door, &headers) {
        Ok(ns) => Json(json!({ "sources": door.sources.list(&ns) })).into_response(),
        Err(refusal) => refusal,
    }
}

pub async fn start(State(door): State<Door>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let ns = match caller(&door, &headers) {
        Ok(ns) => ns,
        Err(refusal) => return refusal,
    };
    let spec: SourceSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(e) => return refused(StatusCode::BAD_REQUEST, format!("not a source: {e}")),
    };
    match door.sources.start_kept(&ns, spec) {
        Ok(status) => (StatusCode::CREATED, Json(status)).into_response(),
        Err(e) => source_error(e),
    }
}

pub async fn stop(State(door): State<Door>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let ns = match caller(&door, &headers) {
        Ok(ns) => ns,
        Err(refusal) => return refusal,
    };
    match door.sources.stop(&ns, &name).await {
        Ok(status) => Json(status).into_response(),
        Err(e) => source_error(e),
    }
}
