//! Which WIT world a component was built against, read from the names of its imports and
//! exports (`homeport:plugin/handler@0.1.0`), and whether this host runs it.

use super::bindings::{WORLD_PACKAGE, WORLD_VERSION};

/// A `major.minor.patch` version.
type Version = (u64, u64, u64);

fn parse_version(text: &str) -> Option<Version> {
    let core = text.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// Semver compatibility as the component model applies it: same major, and for 0.x the
/// same minor too.
fn compatible(host: Version, plugin: Version) -> bool {
    if host.0 == 0 {
        plugin.0 == 0 && plugin.1 == host.1
    } else {
        plugin.0 == host.0
    }
}

/// The range this host runs, for messages: `homeport:plugin@0.1.x`.
pub fn supported() -> String {
    match parse_version(WORLD_VERSION) {
        Some((0, minor, _)) => format!("{WORLD_PACKAGE}@0.{minor}.x"),
        Some((major, _, _)) => format!("{WORLD_PACKAGE}@{major}.x"),
        None => format!("{WORLD_PACKAGE}@{WORLD_VERSION}"),
    }
}

/// Checks a component's import and export names: it must export the handler, and every
/// `homeport:plugin` interface it names must be of a version this host runs.
pub fn check(imports: &[String], exports: &[String]) -> Result<(), String> {
    let host = parse_version(WORLD_VERSION).unwrap_or((0, 0, 0));
    let prefix = format!("{WORLD_PACKAGE}/");
    for name in imports.iter().chain(exports) {
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let version = rest.split_once('@').map(|(_, v)| v);
        match version.and_then(parse_version) {
            Some(plugin) if compatible(host, plugin) => {}
            _ => {
                let built = version.map_or_else(
                    || format!("an unversioned {WORLD_PACKAGE}"),
                    |v| format!("{WORLD_PACKAGE}@{v}"),
                );
                return Err(format!(
                    "the plugin was built against {built} ({name}), but this homeport runs plugins built against {}: rebuild it with a matching homeport-sdk",
                    supported()
                ));
            }
        }
    }
    let handler = format!("{prefix}handler@");
    if !exports.iter().any(|name| name.starts_with(&handler)) {
        let listed = if exports.is_empty() {
            "none".to_owned()
        } else {
            exports.join(", ")
        };
        return Err(format!(
            "not a homeport plugin: it does not export {WORLD_PACKAGE}/handler (its exports: {listed})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_plugin_of_this_world_passes_and_patch_versions_are_compatible() {
        let imports = names(&["homeport:plugin/log@0.1.0", "wasi:cli/environment@0.2.6"]);
        assert!(check(&imports, &names(&["homeport:plugin/handler@0.1.0"])).is_ok());
        assert!(check(&imports, &names(&["homeport:plugin/handler@0.1.7"])).is_ok());
    }

    #[test]
    fn another_minor_version_is_refused_by_name() {
        let error = check(&[], &names(&["homeport:plugin/handler@0.2.0"])).expect_err("refused");
        assert!(error.contains("homeport:plugin@0.2.0"), "{error}");
        assert!(error.contains("homeport:plugin@0.1.x"), "{error}");
    }

    #[test]
    fn a_component_without_the_handler_is_not_a_plugin() {
        let error = check(&[], &names(&["wasi:cli/run@0.2.0"])).expect_err("refused");
        assert!(error.contains("not a homeport plugin"), "{error}");
        assert!(error.contains("wasi:cli/run@0.2.0"), "{error}");
    }
}
