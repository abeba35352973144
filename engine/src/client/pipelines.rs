//! The client's pipeline calls: reload, and the dead letters stages gave up on.

use super::{AdminClient, ClientError};
use crate::admin_api::{DeadLetter, DlqQuery, Pipelines, Replayed};

impl AdminClient {
    /// Reloads the pipelines; the names now running.
    pub async fn reload_pipelines(&self) -> Result<Pipelines, ClientError> {
        let url = self.url(&["api", "pipelines", "reload"]);
        self.json(self.http.post(url)).await
    }

    /// Dead letters (of one pipeline), oldest first, at most `limit`.
    pub async fn dead_letters(
        &self,
        pipeline: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, ClientError> {
        let query = DlqQuery {
            pipeline: pipeline.map(str::to_owned),
            limit: Some(limit),
        };
        let url = self.url(&["api", "dlq"]);
        self.json(self.http.get(url).query(&query)).await
    }

    /// Replays one dead letter (`Some(id)`) or all of them (of one pipeline).
    pub async fn replay(
        &self,
        id: Option<i64>,
        pipeline: Option<&str>,
    ) -> Result<Replayed, ClientError> {
        let url = match id {
            Some(id) => self.url(&["api", "dlq", &id.to_string(), "replay"]),
            None => self.url(&["api", "dlq", "replay"]),
        };
        let query = DlqQuery {
            pipeline: pipeline.map(str::to_owned),
            limit: None,
        };
        self.json(self.http.post(url).query(&query)).await
    }
}
