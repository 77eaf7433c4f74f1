//! Who is calling. Without `--auth-token` anyone may connect (the
//! anonymous namespace, as on every door). With tokens, the server asks
//! for a cleartext password and takes it as the token — what the HTTP
//! door takes as Basic auth's password — so `psql "user=any
//! password=<token>"` or `psycopg.connect(..., password=token)` works;
//! the user name is not checked. Run it on loopback or a private network:
//! this door has no TLS, as the other doors have none.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::cleartext::CleartextPasswordAuth;
use pgwire::api::auth::mechanism::AuthMechanismFactory;
use pgwire::api::auth::{
    protocol_negotiation, save_startup_parameters_to_metadata, AuthDriver, AuthOutcome, AuthSource,
    DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::{ClientInfo, ConnectionManager};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use polaroid_core::{Core, Namespace};

use crate::error::user;

pub struct Startup {
    core: Arc<Core>,
    driver: AuthDriver<DefaultServerParameterProvider, Namespace>,
    passwords: CleartextPasswordAuth<Tokens>,
}

impl Startup {
    pub fn new(core: Arc<Core>, connections: Arc<ConnectionManager>) -> Self {
        let mut parameters = DefaultServerParameterProvider::default();
        parameters.server_version = crate::session::SERVER_VERSION.to_string();
        // Timestamps with a zone are sent in UTC, as the tables hold them.
        parameters.time_zone = "UTC".to_string();
        parameters.is_superuser = false;
        Self {
            passwords: CleartextPasswordAuth::new(Arc::new(Tokens { core: core.clone() })),
            driver: AuthDriver::new(parameters).with_connection_manager(connections),
            core,
        }
    }

    async fn finish<C>(&self, client: &mut C, outcome: AuthOutcome<Namespace>) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match outcome {
            AuthOutcome::InProgress => Ok(()),
            AuthOutcome::Authenticated { identity, final_message } => {
                let ns = identity.ok_or_else(|| user("28P01", "password authentication failed"))?;
                client.session_extensions().insert(ns);
                self.driver.complete_authentication(client, final_message).await
            },
        }
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                if !self.core.tenants().requires_token() {
                    client.session_extensions().insert(Namespace::anonymous());
                    return self.driver.complete_authentication(client, None).await;
                }
                let outcome = self.driver.begin_authentication(client, self.passwords.create()).await?;
                self.finish(client, outcome).await
            },
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                let outcome = self.driver.advance_authentication(client, message).await?;
                self.finish(client, outcome).await
            },
            _ => Ok(()),
        }
    }
}

/// The server's tokens, checked by the core's tenants.
struct Tokens {
    core: Arc<Core>,
}

impl Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens")
    }
}

#[async_trait]
impl AuthSource<Namespace> for Tokens {
    async fn get_password(&self, _login: &LoginInfo) -> PgWireResult<Password> {
        // Tokens are compared by the core, never handed out.
        Err(user("28P01", "passwords are checked as tokens"))
    }

    async fn verify_password(&self, login: &LoginInfo, presented: &[u8]) -> PgWireResult<Option<Namespace>> {
        let token = std::str::from_utf8(presented).unwrap_or("");
        match self.core.tenants().namespace(Some(&format!("Bearer {token}"))) {
            Ok(ns) => Ok(Some(ns)),
            Err(_) => Err(PgWireError::InvalidPassword(login.user().unwrap_or_default().to_owned())),
        }
    }
}
