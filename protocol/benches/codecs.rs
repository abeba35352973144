//! Codec throughput: DHIP encode and decode, DVRIP decode, JSON-RPC parsing, camera-sync lines.
//!
//! Inputs are the shapes the gateway sees most: an alarm notification, a login reply, a
//! snapshot reply large enough to be split, the DVRIP auto-register announcement and an `f6`
//! keep-alive. Timings are kept short (3 s per benchmark, 30 samples) so the whole run stays
//! within a few minutes on a 2-core machine; results are in `BENCHMARKS.md` at the root.

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use homeport_protocol::dhip::codec::DEFAULT_FRAGMENT_SIZE;
use homeport_protocol::dhip::{DhipCodec, DhipMessage};
use homeport_protocol::dvrip::{DvripCodec, DvripPacket};
use homeport_protocol::rpc::Incoming;
use homeport_protocol::sync::{SyncLineCodec, SyncMessage};
use tokio_util::codec::{Decoder, Encoder};

/// Largest message the benchmark codecs accept: room for the snapshot.
const MAX_MESSAGE: usize = 1024 * 1024;

/// A motion alarm as a camera pushes it: ~400 bytes of `client.notifyEventStream`.
const ALARM: &str = r#"{"id":8,"method":"client.notifyEventStream","params":{"SID":513,"eventList":[{"Code":"VideoMotion","Action":"Start","Index":0,"Data":{"LocaleTime":"2026-11-21 06:09:28","UTC":1795241368,"RealUTC":1795241368,"EventSeq":17,"Name":"MotionDetect","RegionName":["Region1"],"SmartMotionEnable":false,"Id":[0],"Object":[{"ObjectType":"Human","Rect":[1024,2048,3072,4096]}]},"Param":[]}]},"session":1722306858}
"#;

/// The login challenge reply (fixture F2).
const LOGIN_REPLY: &str = r#"{"result":false,"params":{"realm":"Login to 907F3C6C73FEDA77","random":"1f1e4fbc-858a-47c8-8a50-cb9310ad48cb","encryption":"Default"},"error":{"code":268632079,"message":"Component error: login challenge!"},"id":0,"session":2869194125}"#;

/// A keep-alive over DVRIP `f6` (fixture F11).
const KEEPALIVE: &str = r#"{"method":"global.keepAlive","magic":"0x1234","params":{"timeout":30,"active":true},"id":12,"session":16909060}"#;

/// Size of the snapshot reply body: JSON, `\n`, JPEG.
const SNAPSHOT_LEN: usize = 64 * 1024;
/// Packet body size the snapshot reply is split into on the wire.
const SNAPSHOT_FRAGMENT: usize = 8 * 1024;

/// Camera-sync traffic of one client session: login, an upload, status and alarm pushes.
const SYNC_LINES: &str = "Login admin|secret\n\
    LoginOk 3|2026-11-21 06:09:28|192.168.1.20\n\
    UploadCaramer 5C0726FPAGEC7C2|campass|1|3\n\
    UploadSucess 5C0726FPAGEC7C2|true|1|3\n\
    CheckCaramerOnlineStatus 5C0726FPAGEC7C2;6D1837GQBHFD8D3;7E2948HRCIGE9E4\n\
    ReturnCaramerOnlineStatus 5C0726FPAGEC7C2;true|6D1837GQBHFD8D3;false|7E2948HRCIGE9E4;null\n\
    PrushCaramerOnlineStatus 5C0726FPAGEC7C2:false\n\
    PrushCaramerAlarmInfo 5C0726FPAGEC7C2:VideoMotion\n\
    Heartbeat\n";

/// A snapshot reply: `{"result":true,"params":{"length":L,"type":"jpg"}}`, `\n`, a JPEG-ish
/// payload, `SNAPSHOT_LEN` bytes in all.
fn snapshot_reply() -> DhipMessage {
    let json = |length: usize| {
        format!(
            r#"{{"id":9,"result":true,"params":{{"length":{length},"type":"jpg"}},"session":5}}"#
        )
    };
    // L has five digits whatever it is exactly, so the JSON's length is known beforehand.
    let payload_len = SNAPSHOT_LEN - json(SNAPSHOT_LEN).len() - 1;
    let mut body = json(payload_len).into_bytes();
    body.push(b'\n');
    body.extend([0xff, 0xd8]);
    body.extend((2..payload_len - 2).map(|i| (i % 251) as u8));
    body.extend([0xff, 0xd9]);
    assert_eq!(body.len(), SNAPSHOT_LEN);
    DhipMessage::new(5, 9, body)
}

fn dhip(c: &mut Criterion) {
    let cases = [
        (
            "alarm_notification",
            DhipMessage::new(1_722_306_858, 8, ALARM),
            DEFAULT_FRAGMENT_SIZE,
        ),
        (
            "login_reply",
            DhipMessage::new(2_869_194_125, 0, LOGIN_REPLY),
            DEFAULT_FRAGMENT_SIZE,
        ),
        ("snapshot_64k_in_8k", snapshot_reply(), SNAPSHOT_FRAGMENT),
    ];
    let mut group = c.benchmark_group("dhip");
    for (name, message, fragment) in &cases {
        let mut codec = DhipCodec::new(MAX_MESSAGE).with_fragment_size(*fragment);
        let mut wire = BytesMut::new();
        codec.encode(message, &mut wire).expect("encodes");
        group.throughput(Throughput::Bytes(wire.len() as u64));

        // Many 64 KiB inputs alive at once would measure page faults, not the codec.
        let batch = if wire.len() > 16 * 1024 {
            BatchSize::LargeInput
        } else {
            BatchSize::SmallInput
        };
        let mut dst = BytesMut::with_capacity(wire.len());
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                dst.clear();
                codec.encode(black_box(message), &mut dst).expect("encodes");
                black_box(&dst);
            });
        });
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter_batched_ref(
                || wire.clone(),
                |src| {
                    let decoded = codec.decode(src).expect("decodes").expect("complete");
                    black_box(decoded)
                },
                batch,
            );
        });
    }
    group.finish();
}

fn dvrip(c: &mut Criterion) {
    let announcement = DvripPacket::announcement("5C0726FPAGEC7C2")
        .expect("valid ID")
        .to_frame();
    let keepalive = DvripPacket::Json {
        request_id: 12,
        session: 0x0102_0304,
        is_reply: false,
        body: KEEPALIVE.into(),
    }
    .to_frame();
    let mut group = c.benchmark_group("dvrip");
    for (name, frame) in [
        ("announcement_96b", announcement),
        ("f6_keepalive", keepalive),
    ] {
        let wire = BytesMut::from(&frame.to_vec()[..]);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        let mut codec = DvripCodec::new(MAX_MESSAGE);
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter_batched_ref(
                || wire.clone(),
                |src| {
                    let frame = codec.decode(src).expect("decodes").expect("complete");
                    black_box(DvripPacket::parse(&frame))
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn rpc(c: &mut Criterion) {
    let json = ALARM.trim_end().as_bytes();
    let mut group = c.benchmark_group("rpc");
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("incoming_parse/alarm_notification", |b| {
        b.iter(|| Incoming::parse(black_box(json)).expect("parses"));
    });
    group.finish();
}

fn sync(c: &mut Criterion) {
    let wire = BytesMut::from(SYNC_LINES.as_bytes());
    let mut codec = SyncLineCodec::new();
    let messages: Vec<SyncMessage> = {
        let mut src = wire.clone();
        std::iter::from_fn(|| codec.decode(&mut src).expect("frames"))
            .map(|item| item.expect("a valid line"))
            .collect()
    };
    // Encoding the decoded lines gives the lines back: the encode benchmark writes real traffic.
    let mut check = BytesMut::new();
    for message in &messages {
        codec.encode(message, &mut check).expect("encodes");
    }
    assert_eq!(&check[..], SYNC_LINES.as_bytes());

    let mut group = c.benchmark_group("sync");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function(format!("decode/{}_lines", messages.len()), |b| {
        b.iter_batched_ref(
            || wire.clone(),
            |src| {
                while let Some(item) = codec.decode(src).expect("frames") {
                    black_box(item.expect("a valid line"));
                }
            },
            BatchSize::SmallInput,
        );
    });
    let mut dst = BytesMut::with_capacity(wire.len());
    group.bench_function(format!("encode/{}_lines", messages.len()), |b| {
        b.iter(|| {
            dst.clear();
            for message in black_box(&messages) {
                codec.encode(message, &mut dst).expect("encodes");
            }
            black_box(&dst);
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = dhip, dvrip, rpc, sync
}
criterion_main!(benches);
