//! How a failed command states its error: every cause once (a cause whose text an earlier one
//! already quotes is left out), then, where the cause is a common one, what to do about it.

use std::io::ErrorKind;

/// The error as one line of causes, and a hint line when one applies.
pub(crate) fn render(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || parts.iter().any(|p| p.contains(text)) {
            continue;
        }
        parts.push(text.to_owned());
    }
    let mut out = parts.join(": ");
    if let Some(hint) = hint(error) {
        out.push_str("\nhint: ");
        out.push_str(hint);
    }
    out
}

/// What to do about the first cause that is an I/O error of a common kind.
fn hint(error: &anyhow::Error) -> Option<&'static str> {
    let kind = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)?;
    Some(match kind {
        ErrorKind::ConnectionRefused => {
            "nothing listens at that address: is the gateway (or the broker) running there? \
             The CLI finds the admin API with --admin or HOMEPORT_ADMIN_URL."
        }
        ErrorKind::AddrInUse => {
            "another process listens on that address (perhaps another homeport): stop it, or \
             choose another one with --register, --sync, --admin or their HOMEPORT_* variables."
        }
        ErrorKind::PermissionDenied => {
            "this user may not use that file, directory or port: check its owner and mode (the \
             data directory must be writable), or choose a port above 1023."
        }
        ErrorKind::NotFound => "check the path named above.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("IO error: {0}")]
    struct Quoting(#[source] io::Error);

    #[test]
    fn a_cause_its_parent_quotes_is_stated_once() {
        let io = io::Error::from(ErrorKind::ConnectionRefused);
        let text = io.to_string();
        let error = anyhow::Error::new(Quoting(io)).context("cannot reach the admin API");
        let rendered = render(&error);
        assert_eq!(rendered.matches(&text).count(), 1, "{rendered}");
        assert!(rendered.starts_with("cannot reach the admin API: IO error: "));
        assert!(rendered.contains("\nhint: nothing listens"), "{rendered}");
    }

    #[test]
    fn an_error_without_a_known_cause_has_no_hint() {
        let error = anyhow::anyhow!("bad pipeline").context("cannot start");
        assert_eq!(render(&error), "cannot start: bad pipeline");
    }
}
