//! Group commit for ingress: one writer task drains every delivery waiting, inserts them in one
//! statement and one transaction, and answers each request after the commit.

use std::collections::{HashMap, HashSet};

use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{now_millis, StoreError};

/// The largest batch written in one transaction (the statement binds 10 values a row).
const MAX_BATCH: usize = 512;
/// Requests waiting for the writer before ingress feels backpressure.
const CHANNEL_CAPACITY: usize = 8192;

/// A delivery as ingress hands it to the store.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    pub repository: Option<String>,
    pub ordering_key: Option<String>,
    pub payload: bytes::Bytes,
    /// `None`: queue it. `Some(error)`: keep it for the operator as failed (e.g. not JSON).
    pub failed_with: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Committed now.
    Stored,
    /// A delivery with this id was stored before; nothing was written.
    Duplicate,
}

type Reply = oneshot::Sender<Result<IngestOutcome, String>>;

#[derive(Clone)]
pub(super) struct IngestHandle {
    sender: mpsc::Sender<(NewDelivery, Reply)>,
}

impl IngestHandle {
    pub(super) async fn submit(&self, delivery: NewDelivery) -> Result<IngestOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((delivery, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(message)) => Err(StoreError::Database(sqlx::Error::Protocol(message))),
            Err(_) => Err(StoreError::Closed),
        }
    }
}

pub(super) fn spawn_writer(pool: SqlitePool) -> IngestHandle {
    let (sender, mut receiver) = mpsc::channel::<(NewDelivery, Reply)>(CHANNEL_CAPACITY);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let outcome = write_batch(&pool, &batch).await;
            for (index, (_, reply)) in batch.drain(..).enumerate() {
                let answer = match &outcome {
                    Ok(outcomes) => Ok(outcomes[index]),
                    Err(err) => Err(err.to_string()),
                };
                let _ = reply.send(answer);
            }
        }
    });
    IngestHandle { sender }
}

async fn write_batch(
    pool: &SqlitePool,
    batch: &[(NewDelivery, Reply)],
) -> Result<Vec<IngestOutcome>, sqlx::Error> {
    // The same id twice in one batch: the first one is the delivery, the rest are duplicates.
    let mut seen = HashSet::with_capacity(batch.len());
    let fresh: Vec<&NewDelivery> = batch
        .iter()
        .map(|(delivery, _)| delivery)
        .filter(|delivery| seen.insert(delivery.id.as_str()))
        .collect();

    let now = now_millis();
    let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO deliveries (id, event, action, installation_id, repository, ordering_key, \
         received_at, state, next_attempt_at, last_error) ",
    );
    insert.push_values(fresh.iter(), |mut row, delivery| {
        let state = if delivery.failed_with.is_some() {
            "failed"
        } else {
            "pending"
        };
        row.push_bind(delivery.id.clone())
            .push_bind(delivery.event.clone())
            .push_bind(delivery.action.clone())
            .push_bind(delivery.installation_id)
            .push_bind(delivery.repository.clone())
            .push_bind(delivery.ordering_key.clone())
            .push_bind(now)
            .push_bind(state)
            .push_bind(now)
            .push_bind(delivery.failed_with.clone());
    });
    insert.push(" ON CONFLICT (id) DO NOTHING RETURNING seq, id");

    let mut transaction = pool.begin().await?;
    let inserted: Vec<(i64, String)> = insert.build_query_as().fetch_all(&mut *transaction).await?;
    if !inserted.is_empty() {
        let by_id: HashMap<&str, &NewDelivery> =
            fresh.iter().map(|d| (d.id.as_str(), *d)).collect();
        let mut payloads: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO delivery_payloads (seq, payload) ");
        payloads.push_values(inserted.iter(), |mut row, (seq, id)| {
            let payload = by_id
                .get(id.as_str())
                .map(|d| super::payload_codec::encode(&d.payload))
                .unwrap_or_default();
            row.push_bind(*seq).push_bind(payload);
        });
        payloads.build().execute(&mut *transaction).await?;
    }
    transaction.commit().await?;

    let mut inserted: HashSet<String> = inserted.into_iter().map(|(_, id)| id).collect();
    Ok(batch
        .iter()
        .map(|(delivery, _)| {
            // remove(): a later copy of the same id in this batch is a duplicate.
            if inserted.remove(&delivery.id) {
                IngestOutcome::Stored
            } else {
                IngestOutcome::Duplicate
            }
        })
        .collect())
}
