//! `/api/accounts`: the camera-sync accounts client apps log in to — create, list, delete,
//! change the password, and list an account's cameras (never their passwords).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::error::ApiError;
use super::extract::{Json, Path};
use super::state::AppState;
use crate::admin_api::{Account, AccountCamera, NewAccount, PasswordChange};
use crate::store::{AccountInfo, StoreError};
use crate::time::rfc3339;

impl From<AccountInfo> for Account {
    fn from(info: AccountInfo) -> Self {
        Self {
            name: info.name,
            cameras: info.cameras,
            created: info.created_ms.map(rfc3339),
            last_login: info.last_login_ms.map(rfc3339),
            last_login_ip: info.last_login_ip,
            locked_until: info.locked_until_ms.map(rfc3339),
        }
    }
}

/// `GET /api/accounts`: every account, sorted by name.
pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Vec<Account>>, ApiError> {
    let accounts = state.gateway().store().accounts().await?;
    Ok(Json(accounts.into_iter().map(Account::from).collect()))
}

/// `POST /api/accounts` `{"username","password"}`: 201 with the account; 409 if the name is
/// taken, 400 with the reason for a bad name or password.
pub(super) async fn add(
    State(state): State<AppState>,
    Json(new): Json<NewAccount>,
) -> Result<impl IntoResponse, ApiError> {
    let store = state.gateway().store();
    match store.add_account(&new.username, &new.password).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists { id }) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("account {id:?} already exists"),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(account = %new.username, "account added");
    let account = store
        .account(&new.username)
        .await?
        .ok_or_else(|| unknown_account(&new.username))?;
    Ok((StatusCode::CREATED, Json(Account::from(account))))
}

/// `DELETE /api/accounts/{name}`: the account and its camera bindings; 204, or 404.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.gateway().store().delete_account(&name).await? {
        tracing::info!(account = %name, "account deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(unknown_account(&name))
    }
}

/// `PUT /api/accounts/{name}/password` `{"password"}`: replaces the password and lifts a
/// lockout; the account.
pub(super) async fn set_password(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(change): Json<PasswordChange>,
) -> Result<Json<Account>, ApiError> {
    let store = state.gateway().store();
    if !store.set_account_password(&name, &change.password).await? {
        return Err(unknown_account(&name));
    }
    tracing::info!(account = %name, "account password changed");
    let account = store
        .account(&name)
        .await?
        .ok_or_else(|| unknown_account(&name))?;
    Ok(Json(Account::from(account)))
}

/// `GET /api/accounts/{name}/cameras`: the account's cameras in binding order, with their
/// online state from the registry; 404 for an unknown account.
pub(super) async fn cameras(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<AccountCamera>>, ApiError> {
    let store = state.gateway().store();
    if store.account(&name).await?.is_none() {
        return Err(unknown_account(&name));
    }
    let registry = state.gateway().registry();
    let cameras = store
        .account_cameras(&name)
        .await?
        .into_iter()
        .map(|binding| AccountCamera {
            online: registry
                .view(&binding.camera_id)
                .is_some_and(|view| view.online),
            verified: binding.verified,
            camera_id: binding.camera_id,
        })
        .collect();
    Ok(Json(cameras))
}

fn unknown_account(name: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("account {name:?} not found"))
}
