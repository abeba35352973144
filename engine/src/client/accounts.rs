//! The client's camera-sync account calls: list, create, delete, password, cameras.

use reqwest::Url;

use super::{AdminClient, ClientError};
use crate::admin_api::{Account, AccountCamera, NewAccount, PasswordChange};
use crate::secret::Secret;

impl AdminClient {
    /// `base/api/accounts/{name}/rest…`.
    fn account_url(&self, name: &str, rest: &[&str]) -> Url {
        let mut segments = vec!["api", "accounts", name];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    /// Every camera-sync account.
    pub async fn accounts(&self) -> Result<Vec<Account>, ClientError> {
        self.json(self.http.get(self.url(&["api", "accounts"])))
            .await
    }

    /// Creates a camera-sync account.
    pub async fn add_account(&self, name: &str, password: &str) -> Result<Account, ClientError> {
        let url = self.url(&["api", "accounts"]);
        let account = NewAccount {
            username: name.to_owned(),
            password: Secret::new(password),
        };
        self.json(self.http.post(url).json(&account)).await
    }

    /// Deletes an account and its camera bindings.
    pub async fn delete_account(&self, name: &str) -> Result<(), ClientError> {
        self.done(self.http.delete(self.account_url(name, &[])))
            .await
    }

    /// Replaces an account's password (and lifts a lockout).
    pub async fn set_account_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Account, ClientError> {
        let url = self.account_url(name, &["password"]);
        let change = PasswordChange {
            password: Secret::new(password),
        };
        self.json(self.http.put(url).json(&change)).await
    }

    /// The cameras bound to an account, with their online state.
    pub async fn account_cameras(&self, name: &str) -> Result<Vec<AccountCamera>, ClientError> {
        self.json(self.http.get(self.account_url(name, &["cameras"])))
            .await
    }
}
