//! The caller's namespace from the `Authorization` header: `Bearer <token>`,
//! or HTTP Basic with the token as the password (what QuestDB's clients send
//! when given a user and password).

use axum::http::HeaderMap;
use base64::Engine as _;
use polaroid_core::{Core, CoreError, Namespace};

pub fn namespace(core: &Core, headers: &HeaderMap) -> Result<Namespace, CoreError> {
    let bad = || CoreError::Unauthenticated("the Authorization header must be `Bearer <token>` or Basic".into());
    let header = match headers.get(axum::http::header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| bad())?),
    };
    match header.and_then(|h| h.strip_prefix("Basic ")) {
        Some(encoded) => {
            let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
            let pair = String::from_utf8(decoded).map_err(|_| bad())?;
            let (_user, token) = pair.split_once(':').ok_or_else(bad)?;
            core.tenants().namespace(Some(&format!("Bearer {token}")))
        },
        None => core.tenants().namespace(header),
    }
}
