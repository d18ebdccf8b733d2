//! The `dry-run` kind: provisions nothing and says so. For trying flows, and for
//! benchmarks that measure the daemon's own cost.

use async_trait::async_trait;
use jit_api::RequestId;

use super::{AccessDetails, GrantSpec, Integration, IntegrationError, RevokeSpec};

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
    fn uses_secret(&self) -> bool {
        false
    }
    async fn grant(&self, _spec: &GrantSpec) -> Result<(), IntegrationError> {
        Ok(())
    }
    async fn revoke(&self, _spec: &RevokeSpec) -> Result<(), IntegrationError> {
        Ok(())
    }
    async fn list_principals(&self) -> Result<Vec<String>, IntegrationError> {
        Ok(Vec::new())
    }
    fn access_details(&self, _principal: &str, _resources: &[String]) -> AccessDetails {
        AccessDetails {
            instructions: "dry-run: nothing was provisioned, there is nothing to log in to".into(),
            ..AccessDetails::default()
        }
    }
}
