//! Produce throughput against a real broker (`KAFKA_BOOTSTRAP`, the dev broker by default):
//! medallion's producer path (generate → encode → bounded in-flight idempotent sends) versus a
//! trivial producer sending 16-byte payloads (and one sending pre-encoded medallion payloads) with
//! the same client settings, in the same run: first in paired rounds (the ratios to report), then
//! each under criterion.
//! Start a broker first: `scripts/dev-broker start`.

/// The binary's allocator (see `Cargo.toml`), so the bench measures what `medallion` does.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use figment::providers::Serialized;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use medallion::config::Config;
use medallion::encode::RecordEncoder;
use medallion::generate::{Generator, GeneratorSettings};
use medallion::produce::{
    DeliveryStats, SendPolicy, SourceSettings, StreamGenerator, StreamKind, create_producer, resolve_schema_ref, run_kafka_sink, run_source,
};
use medallion::schema::SchemaCatalog;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

const MESSAGES: u64 = 20_000;
/// Rounds of the paired comparison (each sends MESSAGES with every variant).
const PAIRED_ROUNDS: usize = 9;

fn config(topic: &str) -> Config {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:19092".to_owned());
    let overrides = serde_json::json!({"kafka": {"bootstrap_servers": bootstrap, "topic": topic}});
    Config::load_with_env(None, Serialized::defaults(overrides), false).expect("config")
}

async fn medallion_batch(config: &Config, producer: &FutureProducer, generator: Generator) -> Duration {
    let entry = SchemaCatalog::purchase_orders().by_version(config.schema.version).expect("schema");
    let encoder = RecordEncoder::new(entry, resolve_schema_ref(config, entry).await.expect("schema ref")).expect("encoder");
    let (sender, receiver) = mpsc::channel(32);
    // As fast as the broker takes them.
    let unlimited = Config { producer: medallion::config::ProducerConfig { rate: 0, ..config.producer.clone() }, ..config.clone() };
    let (_reloads, config_updates) = watch::channel(Arc::new(unlimited));
    let settings =
        SourceSettings { count: Some(MESSAGES), duration: None, stream: StreamKind::PurchaseOrders, config_updates, encoder: Some(encoder) };
    let policy = SendPolicy { max_in_flight: config.producer.max_in_flight, flush_timeout: Duration::from_secs(60) };
    let started = Instant::now();
    let source = tokio::spawn(run_source(StreamGenerator::PurchaseOrders(Box::new(generator)), settings, sender, CancellationToken::new()));
    let stats = DeliveryStats::new(true, &StreamKind::PurchaseOrders.defect_names());
    let stats = run_kafka_sink(producer.clone(), Arc::from(config.kafka.topic.as_str()), receiver, policy, stats).await;
    source.await.expect("source");
    let elapsed = started.elapsed();
    assert_eq!((stats.sent, stats.failed), (MESSAGES, 0));
    elapsed
}

/// Sends `payloads` (cycled up to MESSAGES) with a plain bounded loop: no generation, no encoding.
async fn trivial_batch(config: &Config, producer: &FutureProducer, payloads: &Arc<Vec<Vec<u8>>>) -> Duration {
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut delivered = 0;
    for i in 0..MESSAGES {
        let key = format!("ORD-{:06}", i % 1_000);
        while in_flight.len() >= config.producer.max_in_flight {
            in_flight.next().await;
        }
        let producer = producer.clone();
        let topic = config.kafka.topic.clone();
        let payloads = Arc::clone(payloads);
        in_flight.push(async move {
            let payload = &payloads[i as usize % payloads.len()];
            let record = FutureRecord::to(&topic).key(&key).payload(payload);
            producer.send(record, Duration::from_secs(60)).await.is_ok()
        });
    }
    while let Some(ok) = in_flight.next().await {
        delivered += u64::from(ok);
    }
    let elapsed = started.elapsed();
    assert_eq!(delivered, MESSAGES);
    elapsed
}

/// MESSAGES medallion payloads, generated and encoded before any timing.
fn pre_encoded(config: &Config, runtime: &tokio::runtime::Runtime) -> Vec<Vec<u8>> {
    let entry = SchemaCatalog::purchase_orders().by_version(config.schema.version).expect("schema");
    let schema_ref = runtime.block_on(resolve_schema_ref(config, entry)).expect("schema ref");
    let encoder = RecordEncoder::new(entry, schema_ref).expect("encoder");
    let settings = GeneratorSettings { seed: 1, invalid_ratio: 0.05, start_time: None, rate: 0, time_scale: 1.0 };
    let mut generator = Generator::new(&settings);
    (0..MESSAGES)
        .map(|_| {
            let mut payload = Vec::new();
            encoder.encode(&generator.next_event().item, &mut payload).expect("encode");
            payload
        })
        .collect()
}

/// The three producers, timed on one batch each.
struct Variants<'a> {
    runtime: &'a tokio::runtime::Runtime,
    config: &'a Config,
    producer: &'a FutureProducer,
    tiny: Arc<Vec<Vec<u8>>>,
    encoded: Arc<Vec<Vec<u8>>>,
}

impl Variants<'_> {
    const NAMES: [&'static str; 3] =
        ["baseline_trivial_16_byte_payloads", "baseline_trivial_pre_encoded_medallion_payloads", "medallion_generate_encode_send"];

    fn run(&self, variant: usize, seed: u64) -> Duration {
        match variant {
            0 => self.runtime.block_on(trivial_batch(self.config, self.producer, &self.tiny)),
            1 => self.runtime.block_on(trivial_batch(self.config, self.producer, &self.encoded)),
            _ => {
                let settings = GeneratorSettings { seed, invalid_ratio: 0.05, start_time: None, rate: 0, time_scale: 1.0 };
                self.runtime.block_on(medallion_batch(self.config, self.producer, Generator::new(&settings)))
            }
        }
    }

    /// Rounds of all three, in an order rotated each round, so that none always runs on a
    /// broker that the others have just filled (an in-memory broker slows as it grows): the
    /// ratios to report.
    fn paired_rounds(&self, rounds: usize) {
        let mut times: [Vec<Duration>; 3] = Default::default();
        for round in 0..rounds {
            for step in 0..3 {
                let variant = (round + step) % 3;
                times[variant].push(self.run(variant, round as u64));
            }
        }
        let rate = |durations: &mut Vec<Duration>| {
            durations.sort();
            MESSAGES as f64 / durations[durations.len() / 2].as_secs_f64()
        };
        let rates: Vec<f64> = times.iter_mut().map(rate).collect();
        eprintln!("paired rounds ({rounds} × {MESSAGES} messages each, median per variant):");
        for (name, rate) in Self::NAMES.iter().zip(&rates) {
            eprintln!("  {name:<50} {rate:>10.0} msg/s  {:.2}× the 16-byte baseline", rate / rates[0]);
        }
        eprintln!("  medallion ÷ pre-encoded baseline: {:.2}×", rates[2] / rates[1]);
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let topic = format!("bench-produce-{}", uuid::Uuid::new_v4().simple());
    let config = config(&topic);
    runtime
        .block_on(medallion::kafka::ensure_topic(&config))
        .unwrap_or_else(|e| panic!("{e}: start the dev broker with `scripts/dev-broker start` or set KAFKA_BOOTSTRAP"));
    let producer = create_producer(&config).expect("producer");
    let encoded = Arc::new(pre_encoded(&config, &runtime));
    let mean_size = encoded.iter().map(Vec::len).sum::<usize>() / encoded.len();
    eprintln!("medallion payloads: {mean_size} bytes on average");
    let tiny = Arc::new(vec![b"0123456789abcdef".to_vec()]);
    let variants = Variants { runtime: &runtime, config: &config, producer: &producer, tiny, encoded };
    variants.paired_rounds(PAIRED_ROUNDS);
    // Criterion's statistics per variant, kept short: every message stays in the broker's memory.
    let mut group = c.benchmark_group("produce");
    group.throughput(Throughput::Elements(MESSAGES));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for (variant, name) in Variants::NAMES.iter().enumerate() {
        group.bench_function(*name, |b| b.iter_custom(|iterations| (0..iterations).map(|i| variants.run(variant, i)).sum()));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
