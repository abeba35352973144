//! A rumqttc subscriber for end-to-end tests: QoS 1, re-subscribes on every connection, and
//! hands every message (with its retain flag) to the test.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// One message received.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: serde_json::Value,
    pub raw: String,
    pub retain: bool,
}

/// A subscriber to one topic filter.
pub struct Subscriber {
    pub rx: mpsc::UnboundedReceiver<Message>,
    task: JoinHandle<()>,
}

impl Subscriber {
    /// Connects, subscribes, and returns once the broker confirmed the subscription.
    pub async fn connect(port: u16, client_id: &str, clean_session: bool, filter: &str) -> Self {
        let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
        options
            .set_clean_session(clean_session)
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 1000);
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let filter = filter.to_owned();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.subscribe(filter.clone(), QoS::AtLeastOnce).await;
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let payload = serde_json::from_slice(&publish.payload)
                            .unwrap_or(serde_json::Value::Null);
                        let raw = String::from_utf8_lossy(&publish.payload).into_owned();
                        let _ = tx.send(Message {
                            topic: publish.topic.clone(),
                            payload,
                            raw,
                            retain: publish.retain,
                        });
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(15), ready_rx)
            .await
            .expect("subscribed in time")
            .expect("subscribed");
        Self { rx, task }
    }

    /// Everything received until nothing came for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Message> {
        let mut out = Vec::new();
        while let Ok(Some(message)) = tokio::time::timeout(quiet, self.rx.recv()).await {
            out.push(message);
        }
        out
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Publishes one message (QoS 1, not retained) as client `client_id` and returns once the
/// broker acknowledged it.
pub async fn publish_once(port: u16, client_id: &str, topic: &str, payload: &str) {
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    client
        .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
        .await
        .expect("queued");
    let acked = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => return,
                Ok(_) => {}
                Err(e) => panic!("publishing to the test broker: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), acked)
        .await
        .expect("acknowledged in time");
}
