use std::sync::Arc;

use polaroid_handles::Namespace;
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::error::ServiceError;

/// Checks `authorization: Bearer <token>` and tags the request with the
/// token's handle namespace. Without configured tokens every caller shares
/// the anonymous namespace.
#[derive(Clone)]
pub(crate) struct Auth {
    tokens: Arc<Vec<String>>,
}

impl Auth {
    pub(crate) fn new(tokens: Vec<String>) -> Self {
        Self { tokens: Arc::new(tokens) }
    }
}

impl Interceptor for Auth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let namespace = if self.tokens.is_empty() {
            Namespace::anonymous()
        } else {
            let header = request.metadata().get("authorization").ok_or_else(|| {
                unauthenticated("this server needs `authorization: Bearer <token>` metadata")
            })?;
            let presented = header
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| unauthenticated("authorization metadata must be `Bearer <token>`"))?;
            let known = self.tokens.iter().find(|t| constant_time_eq(t.as_bytes(), presented.as_bytes()));
            match known {
                // The token is the namespace; Namespace never prints it.
                Some(token) => Namespace::new(token),
                None => return Err(unauthenticated("the bearer token is not valid for this server")),
            }
        };
        request.extensions_mut().insert(namespace);
        Ok(request)
    }
}

fn unauthenticated(message: &str) -> Status {
    ServiceError::Unauthenticated(message.into()).into()
}

/// The caller's namespace, as [`Auth`] tagged the request. A request that
/// did not pass through [`Auth`] (a service mounted without it) is refused:
/// auth fails closed instead of falling back to the anonymous namespace.
pub(crate) fn namespace<T>(request: &Request<T>) -> Result<Namespace, ServiceError> {
    request.extensions().get::<Namespace>().cloned().ok_or_else(|| {
        ServiceError::Unauthenticated(
            "this service was reached without the server's auth layer; refusing the call".into(),
        )
    })
}

/// Compare without an early exit, so timing does not reveal a token prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
