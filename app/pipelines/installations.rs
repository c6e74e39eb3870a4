//! Installation bookkeeping: which accounts installed the App and which repositories it may reach.

use octocrab::models::webhook_events::payload::{
    InstallationRepositoriesWebhookEventSelection, InstallationWebhookEventAction,
};
use octocrab::models::webhook_events::{EventInstallation, WebhookEvent, WebhookEventPayload};

use super::PipelineContext;
use crate::queue::{Delivery, HandlerError, HandlerRegistry};
use crate::store::{InstallationRecord, Store};
use crate::webhook::parse_event;

pub fn register(registry: &mut HandlerRegistry, context: &PipelineContext) {
    for event in ["installation", "installation_repositories"] {
        let store = context.store.clone();
        registry.on(event, None, move |delivery: Delivery| {
            let store = store.clone();
            async move { record(&store, &delivery).await }
        });
    }
}

/// Applies one installation or installation_repositories event to the store.
pub async fn record(store: &Store, delivery: &Delivery) -> Result<(), HandlerError> {
    let event = parse_event(&delivery.event, &delivery.payload)
        .map_err(|err| HandlerError::permanent(err.to_string()))?;
    let Some(installation) = installation_of(&event) else {
        return Err(HandlerError::permanent("the payload names no installation"));
    };
    match &event.specific {
        WebhookEventPayload::Installation(payload) => {
            let mut record = installation;
            match payload.action {
                InstallationWebhookEventAction::Deleted => record.deleted = true,
                InstallationWebhookEventAction::Suspend => record.suspended = true,
                InstallationWebhookEventAction::Unsuspend => record.suspended = false,
                _ => {}
            }
            store.upsert_installation(&record).await?;
            if payload.action == InstallationWebhookEventAction::Created {
                let names: Vec<String> = payload
                    .repositories
                    .iter()
                    .flatten()
                    .map(|repo| repo.full_name.clone())
                    .collect();
                store
                    .add_installation_repositories(record.id, &names)
                    .await?;
            }
            tracing::info!(installation_id = record.id, account = ?record.account, action = ?payload.action, "installation recorded");
        }
        WebhookEventPayload::InstallationRepositories(payload) => {
            let mut record = installation;
            record.repository_selection = Some(
                match payload.repository_selection {
                    InstallationRepositoriesWebhookEventSelection::All => "all",
                    _ => "selected",
                }
                .to_string(),
            );
            store.upsert_installation(&record).await?;
            let added: Vec<String> = payload
                .repositories_added
                .iter()
                .map(|r| r.full_name.clone())
                .collect();
            let removed: Vec<String> = payload
                .repositories_removed
                .iter()
                .map(|r| r.full_name.clone())
                .collect();
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
        }
        _ => {
            return Err(HandlerError::permanent(format!(
                "{} is not an installation event",
                delivery.event
            )))
        }
    }
    Ok(())
}

fn installation_of(event: &WebhookEvent) -> Option<InstallationRecord> {
    match event.installation.as_ref()? {
        EventInstallation::Full(installation) => Some(InstallationRecord {
            id: installation.id.0 as i64,
            account: Some(installation.account.login.clone()),
            account_type: Some(installation.account.r#type.clone()),
            repository_selection: installation.repository_selection.clone(),
            suspended: false,
            deleted: false,
        }),
        EventInstallation::Minimal(installation) => Some(InstallationRecord {
            id: installation.id.0 as i64,
            account: None,
            account_type: None,
            repository_selection: None,
            suspended: false,
            deleted: false,
        }),
    }
}
