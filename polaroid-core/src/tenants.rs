//! Who is calling: a bearer token names a tenant, and each tenant has its
//! own handle namespace. Every door asks the same [`Tenants`].

use std::sync::Arc;

use polaroid_handles::Namespace;

use crate::error::CoreError;

/// The tokens this server accepts. Without tokens every caller shares the
/// anonymous namespace.
#[derive(Clone, Debug, Default)]
pub struct Tenants {
    tokens: Arc<Vec<String>>,
}

impl Tenants {
    pub fn new(tokens: Vec<String>) -> Self {
        Self { tokens: Arc::new(tokens.into_iter().filter(|t| !t.is_empty()).collect()) }
    }

    /// How many tenants there are (1 when the server is open).
    pub fn count(&self) -> usize {
        self.tokens.len().max(1)
    }

    /// Whether calls need a token.
    pub fn requires_token(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Every tenant's namespace: the anonymous one when the server is open.
    pub fn namespaces(&self) -> Vec<Namespace> {
        if self.tokens.is_empty() {
            return vec![Namespace::anonymous()];
        }
        self.tokens.iter().map(Namespace::new).collect()
    }

    /// The namespace of a caller who sent `authorization` (the header's
    /// value, `Bearer <token>`), or an UNAUTHENTICATED error.
    pub fn namespace(&self, authorization: Option<&str>) -> Result<Namespace, CoreError> {
        if self.tokens.is_empty() {
            return Ok(Namespace::anonymous());
        }
        let header = authorization.ok_or_else(|| unauthenticated("this server needs `authorization: Bearer <token>`"))?;
        let presented =
            header.strip_prefix("Bearer ").ok_or_else(|| unauthenticated("authorization must be `Bearer <token>`"))?;
        match self.tokens.iter().find(|t| constant_time_eq(t.as_bytes(), presented.as_bytes())) {
            // The token is the namespace; Namespace never prints it.
            Some(token) => Ok(Namespace::new(token)),
            None => Err(unauthenticated("the bearer token is not valid for this server")),
        }
    }
}

fn unauthenticated(message: &str) -> CoreError {
    CoreError::Unauthenticated(message.into())
}

/// Compare without an early exit, so timing does not reveal a token prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_namespaces_and_anything_else_is_refused() {
        let open = Tenants::new(vec![]);
        assert_eq!(open.namespace(None).unwrap(), Namespace::anonymous());
        let closed = Tenants::new(vec!["alice".into(), "bob".into()]);
        assert_eq!(closed.namespace(Some("Bearer alice")).unwrap(), Namespace::new("alice"));
        assert_ne!(closed.namespace(Some("Bearer bob")).unwrap(), Namespace::new("alice"));
        for bad in [None, Some("alice"), Some("Bearer carol"), Some("Bearer ")] {
            assert!(matches!(closed.namespace(bad), Err(CoreError::Unauthenticated(_))), "{bad:?}");
        }
    }
}
