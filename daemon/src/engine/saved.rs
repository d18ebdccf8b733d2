//! Saved requests (`saved.save`, `saved.list`, `saved.delete`): what a request asks for,
//! kept per user under a name and asked again with `jit request @NAME --reason …` — the
//! anchors' favourites. Only the names are checked when saving; the access flows decide
//! again each time it is used, as for any request.

use std::sync::Arc;

use jit_api::methods::{CreateParams, Empty, NameParams, SaveParams, SavedRequest};

use super::authz::Caller;
use super::{Engine, EngineError, from_ms};
use crate::store::model::SavedRecord;

/// How many saved requests one user may keep.
pub const MAX_SAVED: usize = 100;

/// The longest name.
const MAX_NAME: usize = 64;

fn check_name(name: &str) -> Result<(), EngineError> {
    if name.is_empty()
        || name.len() > MAX_NAME
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(EngineError::InvalidInput(format!(
            "saved request name {name:?}: use 1 to {MAX_NAME} letters, digits, '.', '_' or '-'"
        )));
    }
    Ok(())
}

fn view(name: String, r: SavedRecord) -> SavedRequest {
    SavedRequest {
        name,
        request: CreateParams {
            integration: r.integration,
            resource_type: r.resource_type,
            resources: r.resources,
            permissions: r.permissions,
            bundle: r.bundle,
            duration_secs: r.duration_secs,
            ..CreateParams::default()
        },
        saved_at: from_ms(r.saved_at).into(),
    }
}

impl Engine {
    /// `saved.save`.
    pub async fn save(
        self: &Arc<Self>,
        caller: &Caller,
        p: SaveParams,
    ) -> Result<SavedRequest, EngineError> {
        check_name(&p.name)?;
        let mut r = p.request;
        // Stored as the request will be checked: each name once (a list of duplicates
        // must not pass the 1,000-resource limit and fill the store).
        let mut seen = std::collections::HashSet::new();
        r.resources.retain(|x| seen.insert(x.clone()));
        let mut seen = std::collections::HashSet::new();
        r.permissions.retain(|x| seen.insert(x.clone()));
        if r.justification.is_some() {
            return Err(EngineError::InvalidInput(
                "a saved request keeps no justification: give one each time you use it \
                 (jit request @NAME --reason …)"
                    .into(),
            ));
        }
        if r.start_at.is_some() {
            return Err(EngineError::InvalidInput(
                "a saved request keeps no start time: give one each time you use it (--at, --in)"
                    .into(),
            ));
        }
        if r.duration_secs == Some(0) {
            return Err(EngineError::InvalidInput(
                "duration must be at least 1s".into(),
            ));
        }
        // Names that do not exist are refused now, with the same errors as a request.
        Self::resolve_entries(&self.config(), &r)?;
        let rec = SavedRecord {
            integration: r.integration,
            resource_type: r.resource_type,
            resources: r.resources,
            permissions: r.permissions,
            bundle: r.bundle,
            duration_secs: r.duration_secs,
            saved_at: self.now_ms(),
        };
        let user = caller.user.clone();
        let name = p.name.clone();
        let stored = rec.clone();
        let saved = self
            .write(move |wtx| {
                Ok::<_, EngineError>(wtx.put_saved(&user, &name, &stored, MAX_SAVED)?)
            })
            .await?;
        if !saved {
            return Err(EngineError::InvalidState(format!(
                "you have {MAX_SAVED} saved requests already; delete one first (jit saved delete NAME)"
            )));
        }
        Ok(view(p.name, rec))
    }

    /// `saved.list`.
    pub fn saved(&self, caller: &Caller) -> Result<Vec<SavedRequest>, EngineError> {
        Ok(self
            .store
            .read(|r| r.saved_of(&caller.user))?
            .into_iter()
            .map(|(name, r)| view(name, r))
            .collect())
    }

    /// `saved.delete`.
    pub async fn delete_saved(
        self: &Arc<Self>,
        caller: &Caller,
        p: NameParams,
    ) -> Result<Empty, EngineError> {
        check_name(&p.name)?;
        let user = caller.user.clone();
        let name = p.name.clone();
        let gone = self
            .write(move |wtx| Ok::<_, EngineError>(wtx.delete_saved(&user, &name)?))
            .await?;
        if gone {
            Ok(Empty {})
        } else {
            Err(EngineError::InvalidInput(format!(
                "you have no saved request named {}; `jit saved` lists yours",
                p.name
            )))
        }
    }
}
