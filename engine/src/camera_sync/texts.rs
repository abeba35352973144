//! Reason texts sent to apps. Existing apps display the seed's Chinese strings, so they are the
//! default; English is selectable in the config.

use serde::Deserialize;

/// Which texts apps get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// The seed's Chinese texts.
    #[default]
    Zh,
    /// English.
    En,
}

/// Why something was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Wrong user name or password.
    WrongLogin,
    /// Too many wrong passwords lately (from this address, or for this account's cameras).
    TooManyAttempts,
    /// The camera's ID and password do not match.
    IdPasswordMismatch,
    /// The camera is bound to the most accounts allowed.
    BindingsFull,
    /// The account has no camera.
    NoCameras,
    /// A command that needs a login came first.
    NotLoggedIn,
    /// `DeleteCaramer`/`ChangeCaramerPassword` named a camera the account does not have.
    NotBound,
    /// Nothing answered the command in time (no pipeline answers apps, or it is stuck).
    Unavailable,
}

impl Language {
    /// The text of `reason`.
    pub fn text(self, reason: Reason) -> &'static str {
        match (self, reason) {
            (Self::Zh, Reason::WrongLogin) => "用户名或者密码错误!",
            (Self::Zh, Reason::TooManyAttempts) => "尝试次数过多,请稍后再试!",
            (Self::Zh, Reason::IdPasswordMismatch) => "ID和密码不匹配",
            (Self::Zh, Reason::BindingsFull) => "该摄像头绑定账号已满",
            (Self::Zh, Reason::NoCameras) => "该账号没有绑定摄像头",
            (Self::Zh, Reason::NotLoggedIn) => "请先登录!",
            (Self::Zh, Reason::NotBound) => "该摄像头未绑定",
            (Self::Zh, Reason::Unavailable) => "服务暂时不可用,请稍后再试!",
            (Self::En, Reason::WrongLogin) => "Wrong user name or password!",
            (Self::En, Reason::TooManyAttempts) => "Too many failed attempts; try again later!",
            (Self::En, Reason::IdPasswordMismatch) => "Camera ID and password do not match",
            (Self::En, Reason::BindingsFull) => {
                "This camera is bound to the maximum number of accounts"
            }
            (Self::En, Reason::NoCameras) => "No camera is bound to this account",
            (Self::En, Reason::NotLoggedIn) => "Log in first!",
            (Self::En, Reason::NotBound) => "This camera is not bound to this account",
            (Self::En, Reason::Unavailable) => "The service did not answer; try again later!",
        }
    }
}
