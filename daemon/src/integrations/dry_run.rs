//! The `dry-run` kind: provisions nothing and says so. For trying flows, and for
//! benchmarks that measure the daemon's own cost.

use async_trait::async_trait;
use jit_api::{ConnectKind, RequestId};

use super::{
    AccessDetails, ConnectTarget, GrantSpec, Integration, IntegrationError, Issued, RevokeSpec,
    SecretSource, SessionView,
};

/// The dry-run integration.
#[derive(Debug, Clone, Copy)]
pub struct DryRun;

#[async_trait]
impl Integration for DryRun {
    fn kind(&self) -> &'static str {
        "dry-run"
    }
    fn concurrency(&self) -> usize {
        1024
    }
    fn dry_run(&self) -> bool {
        true
    }
    fn principal_for(&self, _requester: &str, _request: RequestId) -> Option<String> {
        None
    }
    fn secret_source(&self) -> SecretSource {
        SecretSource::None
    }
    async fn grant(&self, _spec: &GrantSpec) -> Result<Issued, IntegrationError> {
        Ok(Issued::default())
    }
    async fn revoke(&self, _spec: &RevokeSpec) -> Result<(), IntegrationError> {
        Ok(())
    }
    fn connect_kinds(&self, session: &SessionView<'_>) -> Vec<ConnectKind> {
        if session.browser_url.is_some() {
            vec![ConnectKind::Browser]
        } else {
            Vec::new()
        }
    }
    fn connect(&self, kind: ConnectKind, session: &SessionView<'_>) -> Option<ConnectTarget> {
        let t = session
            .browser_url
            .filter(|_| kind == ConnectKind::Browser)?;
        let db = session.resources.first().map_or("", String::as_str);
        Some(ConnectTarget {
            url: Some(super::fill_template(
                t,
                "localhost",
                0,
                session.principal,
                db,
            )),
            ..ConnectTarget::default()
        })
    }
    async fn list_principals(&self) -> Result<Vec<String>, IntegrationError> {
        Ok(Vec::new())
    }
    fn access_details(&self, _session: &SessionView<'_>) -> AccessDetails {
        AccessDetails {
            instructions: "dry-run: nothing was provisioned, there is nothing to log in to".into(),
            ..AccessDetails::default()
        }
    }
}
