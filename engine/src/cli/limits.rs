//! The process's descriptor limit, and how many device connections it leaves room for.

/// Descriptors kept back from device connections for the admin API, the camera-sync server,
/// the store, the brokers and plugin files.
const FD_RESERVE: u64 = 1024;

/// The device connections the process can hold: the descriptor limit is raised as far as
/// allowed, and `wanted` is lowered to what it leaves after [`FD_RESERVE`], so idle sockets
/// on the register port can never starve the other listeners.
pub(crate) fn connection_cap(wanted: usize) -> usize {
    let limit = rlimit::increase_nofile_limit(wanted as u64 + FD_RESERVE)
        .or_else(|_| rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft))
        .unwrap_or(wanted as u64 + FD_RESERVE);
    let cap = usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(wanted);
    if cap < wanted {
        tracing::info!(
            wanted,
            cap,
            limit,
            "device connections capped by the open-files limit (raise it with LimitNOFILE= or ulimit -n for more)"
        );
        cap.max(1)
    } else {
        wanted
    }
}
