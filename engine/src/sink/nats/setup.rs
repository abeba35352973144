//! Creating or finding the JetStream stream and the KV bucket when the sink starts.

use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::{self, kv, stream};

use super::config::JetStreamConfig;
use super::error::{BoxError, NatsError};

/// Where `publish_js` goes.
pub(super) struct JetStreamTarget {
    pub(super) context: jetstream::Context,
    pub(super) stream: String,
    /// The stream's subject filters as the server has them.
    pub(super) subjects: Vec<String>,
}

/// Where `put_state` goes.
pub(super) struct KvTarget {
    pub(super) store: kv::Store,
    pub(super) bucket: String,
}

/// Creates or updates the stream (or finds it when `create` is off) and keeps the subjects the
/// server reports.
pub(super) async fn setup_stream(
    client: &Client,
    setup: &jetstream::Context,
    config: &JetStreamConfig,
) -> Result<JetStreamTarget, NatsError> {
    let name = config.stream.clone();
    let info = if config.create {
        setup
            .create_or_update_stream(stream::Config {
                name: name.clone(),
                subjects: config.subjects.clone(),
                duplicate_window: config.duplicate_window,
                storage: stream::StorageType::File,
                ..stream::Config::default()
            })
            .await
            .map_err(|source| NatsError::Stream {
                stream: name.clone(),
                action: "create or update",
                source: Box::new(source),
            })?
    } else {
        setup
            .get_stream(&name)
            .await
            .map_err(|source| NatsError::Stream {
                stream: name.clone(),
                action: "find (jetstream.create is off)",
                source: Box::new(source),
            })?
            .cached_info()
            .clone()
    };
    let context = jetstream::ContextBuilder::new()
        .timeout(config.ack_timeout)
        .build(client.clone());
    Ok(JetStreamTarget {
        context,
        stream: name,
        subjects: info.config.subjects,
    })
}

/// Opens the bucket, creating it when missing, with a context whose timeout is the publish ack
/// timeout.
///
/// The bucket's stream is created directly, in the standard KV layout (what async-nats'
/// `create_key_value` builds): that call first reads the account info, whose reply from
/// servers before 2.10 async-nats 0.51 cannot parse. Identical configs from several nodes are
/// fine; a bucket that exists with another config is used as it is.
pub(super) async fn setup_bucket(
    client: &Client,
    setup: &jetstream::Context,
    bucket: &str,
    ack_timeout: Duration,
) -> Result<KvTarget, NatsError> {
    let fail = |source: BoxError| NatsError::Bucket {
        bucket: bucket.to_owned(),
        source,
    };
    let context = jetstream::ContextBuilder::new()
        .timeout(ack_timeout)
        .build(client.clone());
    if let Ok(store) = context.get_key_value(bucket).await {
        return Ok(KvTarget {
            store,
            bucket: bucket.to_owned(),
        });
    }
    setup
        .create_stream(stream::Config {
            name: format!("KV_{bucket}"),
            description: Some("homeport: each device's last state".to_owned()),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            storage: stream::StorageType::File,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            num_replicas: 1,
            ..stream::Config::default()
        })
        .await
        .map_err(|e| fail(Box::new(e)))?;
    let store = context
        .get_key_value(bucket)
        .await
        .map_err(|e| fail(Box::new(e)))?;
    Ok(KvTarget {
        store,
        bucket: bucket.to_owned(),
    })
}
