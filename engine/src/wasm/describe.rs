//! One-line text of a wasmtime error, for logs and stage errors.

/// The text of a wasmtime error: its chain of causes, without the backtrace.
pub fn describe(error: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        // Wasm backtraces are useful to plugin authors in debug logs, not in one-line errors.
        let text = text
            .split("wasm backtrace:")
            .next()
            .unwrap_or_default()
            .trim()
            .trim_end_matches("error while executing at")
            .trim()
            .to_owned();
        if !text.is_empty() && !parts.contains(&text) {
            parts.push(text);
        }
    }
    parts.join(": ")
}
