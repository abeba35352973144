//! The signals `homeport` answers: SIGINT/SIGTERM stop it, SIGHUP reloads the pipelines.

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Reloads the pipelines on SIGHUP; a bad reload keeps the running ones and logs why.
pub(crate) fn reload_on_hangup(pipelines: std::sync::Arc<homeport::pipeline::PipelineHost>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match pipelines.reload().await {
                Ok(names) => eprintln!("homeport: pipelines reloaded: {}", names.join(", ")),
                Err(errors) => {
                    eprintln!("homeport: reload failed, the running pipelines stay:\n{errors}")
                }
            }
        }
    });
}
