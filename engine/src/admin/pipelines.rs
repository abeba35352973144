//! `/api/pipelines` and `/api/dlq`: the running pipelines, hot reload, and the dead letters
//! stages gave up on (list and replay).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::error::ApiError;
use super::extract::Json;
use super::state::AppState;
use crate::admin_api::{DeadLetter, DlqQuery, PipelineStats, Pipelines, Replayed};

fn host(state: &AppState) -> Result<&std::sync::Arc<crate::pipeline::PipelineHost>, ApiError> {
    state
        .node
        .pipelines()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no pipelines are running"))
}

/// `GET /api/pipelines`.
pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Pipelines>, ApiError> {
    Ok(Json(Pipelines {
        pipelines: host(&state)?.names().await,
    }))
}

/// `GET /api/pipelines/stats`: every running pipeline's counters and its stages'.
pub(super) async fn stats(
    State(state): State<AppState>,
) -> Result<Json<Vec<PipelineStats>>, ApiError> {
    Ok(Json(host(&state)?.stats().await))
}

/// `POST /api/pipelines/reload`: build the pipelines again from their files and swap them
/// in; on errors the running ones stay and every error is returned (422).
pub(super) async fn reload(State(state): State<AppState>) -> Result<Json<Pipelines>, ApiError> {
    match host(&state)?.reload().await {
        Ok(pipelines) => Ok(Json(Pipelines { pipelines })),
        Err(errors) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reload failed; the running pipelines stay:\n{errors}"),
        )),
    }
}

/// `GET /api/dlq`: dead letters, oldest first (default 100, at most 10 000).
pub(super) async fn dead_letters(
    State(state): State<AppState>,
    Query(query): Query<DlqQuery>,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    Ok(Json(letters(&state, query, 100, 10_000).await?))
}

/// Dead letters of the query's pipeline (all when none), oldest first: the query's limit, or
/// `default`, at most `max`.
async fn letters(
    state: &AppState,
    query: DlqQuery,
    default: usize,
    max: usize,
) -> Result<Vec<DeadLetter>, ApiError> {
    let limit = query.limit.unwrap_or(default).min(max);
    state
        .gateway()
        .store()
        .dead_letters(query.pipeline, limit)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `POST /api/dlq/{id}/replay`: send one dead letter back into its pipeline.
pub(super) async fn replay_one(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Replayed>, ApiError> {
    let letter = state
        .gateway()
        .store()
        .dead_letter(id)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no dead letter {id}")))?;
    replay(&state, vec![letter]).await
}

/// `POST /api/dlq/replay?pipeline=NAME`: send every dead letter (of one pipeline) back.
pub(super) async fn replay_all(
    State(state): State<AppState>,
    Query(query): Query<DlqQuery>,
) -> Result<Json<Replayed>, ApiError> {
    let letters = letters(&state, query, 10_000, 100_000).await?;
    replay(&state, letters).await
}

async fn replay(state: &AppState, letters: Vec<DeadLetter>) -> Result<Json<Replayed>, ApiError> {
    let host = host(state)?;
    let mut done = Replayed {
        replayed: Vec::new(),
        failed: Vec::new(),
    };
    for letter in letters {
        match host.replay(&letter).await {
            Ok(()) => {
                let _ = state.gateway().store().remove_dead_letter(letter.id).await;
                done.replayed.push(letter.id);
            }
            Err(why) => done.failed.push((letter.id, why)),
        }
    }
    Ok(Json(done))
}
