use polaroid_core::{CoreError, Namespace, Tenants};
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::status::status;

/// Checks `authorization: Bearer <token>` metadata and tags the request
/// with the token's handle namespace (the core's [`Tenants`] decide).
#[derive(Clone)]
pub(crate) struct Auth {
    tenants: Tenants,
}

impl Auth {
    pub(crate) fn new(tenants: Tenants) -> Self {
        Self { tenants }
    }
}

impl Interceptor for Auth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = match request.metadata().get("authorization") {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| {
                status(CoreError::Unauthenticated("authorization metadata must be `Bearer <token>`".into()))
            })?),
        };
        let namespace = self.tenants.namespace(header).map_err(status)?;
        request.extensions_mut().insert(namespace);
        Ok(request)
    }
}

/// The caller's namespace, as [`Auth`] tagged the request. A request that
/// did not pass through [`Auth`] (a service mounted without it) is refused:
/// auth fails closed instead of falling back to the anonymous namespace.
pub(crate) fn namespace<T>(request: &Request<T>) -> Result<Namespace, Status> {
    request.extensions().get::<Namespace>().cloned().ok_or_else(|| {
        status(CoreError::Unauthenticated(
            "this service was reached without the server's auth layer; refusing the call".into(),
        ))
    })
}
