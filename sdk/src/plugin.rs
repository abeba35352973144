//! The [`Plugin`] trait and [`export_plugin!`](crate::export_plugin): how a Rust type
//! becomes the component's `handler` and `packed` exports (a packed batch is the same
//! `process`, once per event, with the host told which event is current).

use std::cell::RefCell;
use std::thread::LocalKey;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{Decision, Event};

/// A pipeline stage: built once from the stage's `config`, then given every event that
/// reaches the stage.
///
/// ```
/// use homeport_sdk::{Decision, Event, Plugin};
///
/// #[derive(serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Config {
///     /// The device to keep.
///     device: String,
/// }
///
/// struct OnlyOne {
///     device: String,
/// }
///
/// impl Plugin for OnlyOne {
///     type Config = Config;
///
///     fn init(config: Config) -> Result<Self, String> {
///         Ok(Self { device: config.device })
///     }
///
///     fn process(&mut self, event: Event) -> Result<Decision, String> {
///         if event.device == self.device {
///             Ok(Decision::pass())
///         } else {
///             Ok(Decision::drop("other_device"))
///         }
///     }
/// }
///
/// homeport_sdk::export_plugin!(OnlyOne);
/// ```
pub trait Plugin: Sized + 'static {
    /// The stage's `config`, read from JSON (`{}` when the stage gives none). Mark it
    /// `#[serde(deny_unknown_fields)]` so a misspelt key is refused at `homeport check`;
    /// [`NoConfig`] takes no keys at all.
    type Config: DeserializeOwned;

    /// Builds the plugin. An error refuses the stage, reported at its `config` line.
    fn init(config: Self::Config) -> Result<Self, String>;

    /// Decides what becomes of one event. An error fails the event under the stage's
    /// `on_error` policy.
    fn process(&mut self, event: Event) -> Result<Decision, String>;
}

/// The config of a plugin that takes none: only `{}` is accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// Reads a stage's config JSON text as `C`. Errors name the offending key path, e.g.
/// ``config.drop[1]: invalid type: integer `3`, expected a string at line 1 column 16``.
pub fn parse_config<C: DeserializeOwned>(text: &str) -> Result<C, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let config = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        // The path is `.` when the problem is the document itself (not an object, bad JSON).
        if path == "." {
            format!("config: {inner}")
        } else {
            format!("config.{path}: {inner}")
        }
    })?;
    deserializer
        .end()
        .map_err(|error| format!("config: {error}"))?;
    Ok(config)
}

/// Where [`export_plugin!`](crate::export_plugin) keeps the instance: a component instance
/// is single-threaded, so a thread-local cell is all it needs.
pub type Instance<P> = RefCell<Option<P>>;

/// The `handler.init` export: parse, build, keep.
pub fn init_instance<P: Plugin>(
    slot: &'static LocalKey<Instance<P>>,
    config: &str,
) -> Result<(), String> {
    // A failed re-init must not leave the previous instance answering.
    slot.with(|slot| slot.replace(None));
    let plugin = P::init(parse_config(config)?)?;
    slot.with(|slot| slot.replace(Some(plugin)));
    Ok(())
}

/// The `handler.process` export: the host's record in, the host's decision out.
pub fn process_instance<P: Plugin>(
    slot: &'static LocalKey<Instance<P>>,
    event: crate::bindings::homeport::plugin::types::Event,
) -> Result<crate::bindings::homeport::plugin::types::Decision, String> {
    slot.with(|slot| match slot.borrow_mut().as_mut() {
        Some(plugin) => plugin
            .process(Event::from_host(event))
            .map(Decision::into_wit),
        None => Err("process called before a successful init".to_owned()),
    })
}

/// The `packed.process-packed` export: each event read out of the batch's text and made
/// current in turn, so that [`Event::id`], [`Event::fields`] and log lines are about it.
pub fn process_packed_instance<P: Plugin>(
    slot: &'static LocalKey<Instance<P>>,
    text: &str,
    events: Vec<crate::bindings::homeport::plugin::types::PackedEvent>,
) -> Vec<Result<crate::bindings::homeport::plugin::types::Decision, String>> {
    slot.with(|slot| match slot.borrow_mut().as_mut() {
        Some(plugin) => events
            .into_iter()
            .enumerate()
            .map(|(index, packed)| {
                // Also the first: entering an event starts its own time limit.
                crate::current::enter(index);
                let event = crate::packed::unpack(text, packed)?;
                plugin
                    .process(Event::from_host(event))
                    .map(Decision::into_wit)
            })
            .collect(),
        None => events
            .iter()
            .map(|_| Err("process called before a successful init".to_owned()))
            .collect(),
    })
}

/// Exports a [`Plugin`] type as the component's `handler` and `packed`. Use it once, in the plugin
/// crate's root.
///
/// The expansion includes the component-model export glue, which is `unsafe`; it carries
/// its own `#[allow(unsafe_code)]`, so the crate can `deny` (not `forbid`) unsafe code. The
/// glue is only emitted on `wasm32`; natively the crate still builds (and its `Guest` impl
/// type-checks), and tests drive the plugin with [`testing::Harness`](crate::testing::Harness).
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[allow(unsafe_code, dead_code)]
        const _: () = {
            ::std::thread_local! {
                static INSTANCE: $crate::__private::Instance<$plugin> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            struct Export;

            impl $crate::bindings::exports::homeport::plugin::handler::Guest for Export {
                fn init(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::init_instance::<$plugin>(&INSTANCE, &config)
                }

                fn process(
                    event: $crate::bindings::homeport::plugin::types::Event,
                ) -> ::core::result::Result<
                    $crate::bindings::homeport::plugin::types::Decision,
                    ::std::string::String,
                > {
                    $crate::__private::process_instance::<$plugin>(&INSTANCE, event)
                }
            }

            impl $crate::bindings::exports::homeport::plugin::packed::Guest for Export {
                fn process_packed(
                    text: ::std::string::String,
                    events: ::std::vec::Vec<$crate::bindings::homeport::plugin::types::PackedEvent>,
                ) -> ::std::vec::Vec<
                    ::core::result::Result<
                        $crate::bindings::homeport::plugin::types::Decision,
                        ::std::string::String,
                    >,
                > {
                    $crate::__private::process_packed_instance::<$plugin>(&INSTANCE, &text, events)
                }
            }

            // Only on wasm32: the export names (`homeport:plugin/handler@0.1.2#init`) are not
            // symbols a native linker's version script accepts, and natively the plugin is
            // driven by `testing::Harness` instead.
            #[cfg(target_arch = "wasm32")]
    $crate::bindings::export!(Export with_types_in $crate::bindings);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        #[serde(default)]
        drop: Vec<String>,
    }

    #[test]
    fn a_config_error_names_the_key_path() {
        let error = parse_config::<Config>(r#"{"drop": ["a", 3]}"#).err();
        assert_eq!(
            error.as_deref(),
            Some(
                "config.drop[1]: invalid type: integer `3`, expected a string at line 1 column 16"
            )
        );
    }

    #[test]
    fn a_missing_key_takes_its_default() {
        let config = parse_config::<Config>("{}").map(|config| config.drop);
        assert_eq!(config, Ok(Vec::new()));
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let error = parse_config::<Config>(r#"{"dorp": []}"#).err();
        assert_eq!(
            error.as_deref(),
            Some("config.dorp: unknown field `dorp`, expected `drop` at line 1 column 7")
        );
    }

    #[test]
    fn text_after_the_config_is_refused() {
        assert!(parse_config::<Config>("{} {}").is_err());
    }

    #[test]
    fn no_config_takes_only_an_empty_object() {
        assert_eq!(parse_config::<NoConfig>("{}"), Ok(NoConfig {}));
        assert!(parse_config::<NoConfig>(r#"{"a": 1}"#).is_err());
    }
}
