//! Installation bookkeeping: which accounts installed the App and which repositories it may reach.

use super::PipelineContext;
use crate::queue::{Delivery, HandlerError, HandlerRegistry};
use crate::store::{InstallationRecord, Store};
use crate::webhook::{Installation, InstallationEvent, InstallationRepositoriesEvent};

pub fn register(registry: &mut HandlerRegistry, context: &PipelineContext) {
    let store = context.store.clone();
    registry.on_event(None, move |_: Delivery, event: InstallationEvent| {
        let store = store.clone();
        async move { record_installation(&store, &event).await }
    });
    let store = context.store.clone();
    registry.on_event(
        None,
        move |_: Delivery, event: InstallationRepositoriesEvent| {
            let store = store.clone();
            async move { record_repositories(&store, &event).await }
        },
    );
}

/// Applies one `installation` event to the store.
pub async fn record_installation(
    store: &Store,
    event: &InstallationEvent,
) -> Result<(), HandlerError> {
    let mut record = record_of(&event.installation);
    match event.action.as_str() {
        "deleted" => record.deleted = true,
        "suspend" => record.suspended = true,
        "unsuspend" => record.suspended = false,
        _ => {}
    }
    store.upsert_installation(&record).await?;
    if event.action == "created" {
        let names: Vec<String> = event.repositories.iter().map(ToString::to_string).collect();
        store
            .add_installation_repositories(record.id, &names)
            .await?;
    }
    tracing::info!(installation_id = record.id, account = ?record.account, action = %event.action, "installation recorded");
    Ok(())
}

/// Applies one `installation_repositories` event to the store.
pub async fn record_repositories(
    store: &Store,
    event: &InstallationRepositoriesEvent,
) -> Result<(), HandlerError> {
    let mut record = record_of(&event.installation);
    record.repository_selection = Some(
        match event.repository_selection.as_str() {
            "all" => "all",
            _ => "selected",
        }
        .to_string(),
    );
    store.upsert_installation(&record).await?;
    let added: Vec<String> = event.added.iter().map(ToString::to_string).collect();
    let removed: Vec<String> = event.removed.iter().map(ToString::to_string).collect();
    store
        .add_installation_repositories(record.id, &added)
        .await?;
    store
        .remove_installation_repositories(record.id, &removed)
        .await?;
    tracing::info!(
        installation_id = record.id,
        added = added.len(),
        removed = removed.len(),
        "installation repositories recorded"
    );
    Ok(())
}

fn record_of(installation: &Installation) -> InstallationRecord {
    InstallationRecord {
        id: installation.id.0,
        account: installation.account.as_ref().map(|a| a.login.clone()),
        account_type: installation.account.as_ref().map(|a| a.kind.clone()),
        repository_selection: installation.repository_selection.clone(),
        suspended: false,
        deleted: false,
    }
}
