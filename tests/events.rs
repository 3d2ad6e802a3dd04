//! The event bus and the event log (issue 8): bounded under a flood with
//! the store slowed down (drops are counted, memory does not grow),
//! retention by age and by rows, queries by kind and channel.

use std::sync::Arc;
use std::time::Duration;

use streamforge::events::{Event, EventBus, EventKind, Subscriber};
use streamforge::store::events::{EventQuery, EventTable, Retention, spawn_writer};
use streamforge::store::{Store, StoreError};

/// The real SQLite store, made slow: every batch waits first.
struct SlowStore {
    inner: Store,
    delay: Duration,
}

impl EventTable for SlowStore {
    async fn insert(&self, events: &[Arc<Event>]) -> Result<(), StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.insert_events(events).await
    }
    async fn prune(&self, r: Retention) -> Result<u64, StoreError> {
        self.inner.prune_events(r).await
    }
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

const KEEP_ALL: Retention = Retention {
    max_age: Duration::from_secs(365 * 86_400),
    max_rows: 10_000_000,
};

#[tokio::test(flavor = "multi_thread")]
async fn issue8_flooded_bus_stays_bounded_and_counts_what_it_drops() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).await.unwrap();
    let capacity = 1024;
    let bus = EventBus::new(capacity);
    let slow = SlowStore {
        inner: store.clone(),
        delay: Duration::from_millis(20),
    };
    let writer = spawn_writer(&bus, slow, KEEP_ALL);
    let rss_before = vm_rss_kib();
    // A demux thread cannot await: publish from a plain thread.
    let producer = {
        let bus = bus.clone();
        std::thread::spawn(move || {
            let mut max_queued = 0;
            for i in 0..100_000u64 {
                bus.publish(
                    Some("101"),
                    EventKind::Stall {
                        source: "http://provider.example/***".into(),
                        source_index: 0,
                        quiet_ms: i,
                    },
                );
                max_queued = max_queued.max(bus.queued());
            }
            max_queued
        })
    };
    let max_queued = producer.join().unwrap();
    let rss_after = vm_rss_kib();
    let stats = bus.stats();
    drop(bus);
    tokio::time::timeout(Duration::from_secs(30), writer)
        .await
        .expect("the writer ends once the bus is gone")
        .unwrap();
    let counts = stats.counts();
    let stored = store.event_count().await.unwrap();
    println!(
        "published {} stored {stored} dropped {} max queued {max_queued} rss {rss_before} → {rss_after} KiB",
        counts.published, counts.dropped_store
    );
    assert_eq!(counts.published, 100_000);
    assert!(
        max_queued <= capacity,
        "queue bounded: {max_queued} > {capacity}"
    );
    assert!(counts.dropped_store > 0, "a slow store drops: {counts:?}");
    assert_eq!(
        stored + counts.dropped_store,
        100_000,
        "every event is stored or counted as dropped"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue8_retention_prunes_by_age_and_by_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).await.unwrap();
    let ev = |days_ago: i64, channel: &str, kind: EventKind| {
        let mut e = Event::new(Some(channel), kind);
        e.ts -= chrono::Duration::days(days_ago);
        Arc::new(e)
    };
    let start = |n| EventKind::SessionStart { candidates: n };
    let old: Vec<_> = (0..50).map(|i| ev(40, "101", start(i))).collect();
    let recent: Vec<_> = (0..300)
        .map(|i| {
            if i % 3 == 0 {
                ev(1, "102", EventKind::SessionCrashed {})
            } else {
                ev(1, "101", start(i))
            }
        })
        .collect();
    store.insert_events(&old).await.unwrap();
    store.insert_events(&recent).await.unwrap();
    assert_eq!(store.event_count().await.unwrap(), 350);

    let by_kind = store
        .events(&EventQuery {
            limit: 1000,
            kind: Some("session_crashed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_kind.len(), 100);
    assert!(by_kind.iter().all(|e| e.channel.as_deref() == Some("102")));
    let page = store
        .events(&EventQuery {
            limit: 10,
            channel: Some("101".into()),
            before_id: Some(by_kind[0].id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 10);
    assert!(page.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert!(page.iter().all(|e| e.id < by_kind[0].id));

    let gone = store
        .prune_events(Retention {
            max_age: Duration::from_secs(30 * 86_400),
            max_rows: 200,
        })
        .await
        .unwrap();
    assert_eq!(gone, 150, "50 too old, then 100 beyond 200 rows");
    assert_eq!(store.event_count().await.unwrap(), 200);
    let left = store
        .events(&EventQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let newest_recent = left.iter().map(|e| e.id).max().unwrap();
    assert_eq!(newest_recent, left[0].id, "the newest are kept");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue8_the_store_and_the_log_see_every_event_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).await.unwrap();
    let bus = EventBus::new(64);
    let mut other = bus.subscribe(Subscriber::Other);
    let writer = spawn_writer(&bus, store.clone(), KEEP_ALL);
    for i in 0..20 {
        bus.publish(Some("7"), EventKind::SessionStart { candidates: i });
    }
    drop(bus);
    writer.await.unwrap();
    let rows = store
        .events(&EventQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 20);
    assert_eq!(rows[0].detail["candidates"], 19, "newest first");
    assert_eq!(rows[19].detail["candidates"], 0);
    let mut seen = 0;
    while other.recv().await.is_some() {
        seen += 1;
    }
    assert_eq!(seen, 20, "a live subscriber (the dashboard) sees them all");
    store.close().await;
}
