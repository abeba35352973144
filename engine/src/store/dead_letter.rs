//! Dead letters: events a pipeline stage gave up on after its retries, with the error, kept
//! for `homeport dlq list|replay`. The table is bounded: past [`MAX_DEAD_LETTERS`] the oldest
//! entries go.

use rusqlite::params;

use super::error::SqliteContext;
use super::{Store, StoreError, now_ms};

/// Most dead letters kept.
pub const MAX_DEAD_LETTERS: i64 = 100_000;

/// Longest error text kept.
const MAX_ERROR_LEN: usize = 4096;

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeadLetter {
    /// Its id (increasing).
    pub id: i64,
    /// When it was stored, Unix ms.
    pub at_ms: i64,
    /// The pipeline.
    pub pipeline: String,
    /// The stage (`#2 mqtt`).
    pub stage: String,
    /// The last error.
    pub error: String,
    /// The event, as JSON.
    pub event: String,
}

impl Store {
    /// Stores a dead letter and returns its id.
    pub async fn add_dead_letter(
        &self,
        pipeline: &str,
        stage: &str,
        error: &str,
        event: String,
    ) -> Result<i64, StoreError> {
        let (pipeline, stage) = (pipeline.to_owned(), stage.to_owned());
        let error: String = error.chars().take(MAX_ERROR_LEN).collect();
        self.call(move |conn, _| {
            let op = || format!("storing a dead letter of pipeline {pipeline}");
            let tx = conn.transaction().context(op)?;
            tx.execute(
                "INSERT INTO dead_letters (at, pipeline, stage, error, event) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now_ms(), pipeline, stage, error, event],
            )
            .context(op)?;
            let id = tx.last_insert_rowid();
            tx.execute("DELETE FROM dead_letters WHERE id <= ?1", params![id - MAX_DEAD_LETTERS]).context(op)?;
            tx.commit().context(op)?;
            Ok(id)
        })
        .await
    }

    /// Dead letters, oldest first, optionally of one pipeline, at most `limit`.
    pub async fn dead_letters(
        &self,
        pipeline: Option<String>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.select_dead_letters(None, pipeline, limit).await
    }

    /// One dead letter by id.
    pub async fn dead_letter(&self, id: i64) -> Result<Option<DeadLetter>, StoreError> {
        Ok(self.select_dead_letters(Some(id), None, 1).await?.pop())
    }

    async fn select_dead_letters(
        &self,
        id: Option<i64>,
        pipeline: Option<String>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.call(move |conn, _| {
            let op = || "reading dead letters".to_owned();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, at, pipeline, stage, error, event FROM dead_letters
                     WHERE (?1 IS NULL OR id = ?1) AND (?2 IS NULL OR pipeline = ?2) ORDER BY id LIMIT ?3",
                )
                .context(op)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(params![id, pipeline, limit], |row| {
                    Ok(DeadLetter {
                        id: row.get(0)?,
                        at_ms: row.get(1)?,
                        pipeline: row.get(2)?,
                        stage: row.get(3)?,
                        error: row.get(4)?,
                        event: row.get(5)?,
                    })
                })
                .context(op)?;
            rows.collect::<Result<Vec<_>, _>>().context(op)
        })
        .await
    }

    /// Removes a dead letter (after a replay); false if it was not there.
    pub async fn remove_dead_letter(&self, id: i64) -> Result<bool, StoreError> {
        self.call(move |conn, _| {
            let removed = conn
                .execute("DELETE FROM dead_letters WHERE id = ?1", params![id])
                .context(|| format!("removing dead letter {id}"))?;
            Ok(removed > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::TestStore;

    #[tokio::test]
    async fn dead_letters_are_stored_listed_and_removed() {
        let test = TestStore::new();
        let store = &test.store;
        let a = store
            .add_dead_letter("p1", "#1 mqtt", "broker away", "{\"a\":1}".to_owned())
            .await
            .expect("stored");
        let b = store
            .add_dead_letter("p2", "#2 nats", "timeout", "{}".to_owned())
            .await
            .expect("stored");
        assert!(b > a);
        let all = store.dead_letters(None, 10).await.expect("listed");
        assert_eq!(all.iter().map(|d| d.id).collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(
            store
                .dead_letters(Some("p2".to_owned()), 10)
                .await
                .expect("listed")
                .len(),
            1
        );
        assert!(store.remove_dead_letter(a).await.expect("removed"));
        assert!(!store.remove_dead_letter(a).await.expect("already gone"));
        assert_eq!(store.dead_letters(None, 10).await.expect("listed").len(), 1);
    }
}
