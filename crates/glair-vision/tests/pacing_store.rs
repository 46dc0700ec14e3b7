//! One account's pace across hosts through a pacing store: clients that share
//! nothing but a real `redis-server` (started here on 127.0.0.1, an ephemeral
//! port, a password) and the account pace as one; the store holds no secret;
//! a store cut off, killed mid-run or refusing the password costs no row.
//! Needs `redis-server` on the PATH (scripts/test.sh installs Debian's).

use std::time::{Duration, Instant};

use glair_vision::{BatchOptions, VerificationRequest, Vision};
use glair_vision_sandbox::redis::RedisServer;
use glair_vision_sandbox::{Sandbox, SandboxConfig};

const PASSWORD: &str = "store-pass-7f3a9c";

/// The store: database 3 of a redis-server of this test's own.
struct Redis(RedisServer);

impl Redis {
    fn start() -> Redis {
        Redis(RedisServer::start(PASSWORD))
    }
    fn url(&self) -> String {
        self.0.url(3)
    }
    fn cli(&self, args: &[&str]) -> String {
        self.0.cli(3, args)
    }
}

/// A token bucket of 150 calls/s, burst 10, answers in 20 ms (+-10).
async fn gateway() -> Sandbox {
    Sandbox::start(SandboxConfig {
        rate_limit: 150.0,
        burst: 10,
        latency: Duration::from_millis(20),
        latency_spread: Duration::from_millis(10),
        seed: 11,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn rows(sb: &Sandbox, n: usize) -> Vec<VerificationRequest> {
    let people = sb.records();
    (0..n).map(|i| VerificationRequest::new(people[i % people.len()].nik())).collect()
}

/// A client as a process on another host would make it: its own pacer, sharing
/// nothing with the others but the store.
fn process(sb: &Sandbox, url: &str) -> Vision {
    sb.vision_builder().pacing_url(url).build().unwrap()
}

/// Runs `clients` batches of `n` rows at 16 in flight each, at once; returns
/// each one's failed rows and finishing time.
async fn run(sb: &Sandbox, clients: &[Vision], n: usize) -> Vec<(usize, Duration)> {
    let started = Instant::now();
    let runs = clients.iter().map(|vision| {
        let rows = rows(sb, n);
        async move {
            let out =
                vision.identity().verification_batch(rows, BatchOptions::default().concurrency(16)).await;
            (out.iter().filter(|o| o.is_err()).count(), started.elapsed())
        }
    });
    futures_util::future::join_all(runs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_through_one_store_pace_as_one_client() {
    let redis = Redis::start();
    let sb = gateway().await;
    let clients: Vec<Vision> = (0..4).map(|_| process(&sb, &redis.url())).collect();
    let n = 400;
    let out = run(&sb, &clients, n).await;
    let elapsed = out.iter().map(|(_, t)| *t).max().unwrap();
    let spread = elapsed - out.iter().map(|(_, t)| *t).min().unwrap();
    let throttled = sb.throttled();
    let pace = (4 * n) as f64 / elapsed.as_secs_f64() / 150.0;
    eprintln!("4 x {n} rows in {elapsed:?} (spread {spread:?}), pace {pace:.2}, {throttled} 429s");
    for vision in &clients {
        eprintln!("{:?}", vision.pacing());
    }
    assert!(out.iter().all(|(failed, _)| *failed == 0), "{out:?}");
    for vision in &clients {
        let store = vision.pacing().store.expect("a store was given");
        assert!(store.joined && store.connected, "{store:?}");
        assert_eq!(store.processes, 4, "{store:?}");
    }
    // Loose bounds (timing targets live in bench/pacing.sh): one pace, not four.
    assert!(throttled * 20 < (4 * n) as u64, "{throttled} 429s for {} rows", 4 * n);
    assert!(spread < Duration::from_secs(3), "finished {spread:?} apart");

    // What the store holds: the account's record and its processes, under a
    // hash; no key, password, NIK or URL, and every entry expires.
    let keys = redis.cli(&["--scan"]);
    let keys: Vec<&str> = keys.lines().collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in keys {
        assert!(key.starts_with("glair-vision:pacing:{"), "{key}");
        let ttl: i64 = redis.cli(&["PTTL", key]).trim().parse().unwrap();
        assert!(ttl > 0 && ttl <= 60_000, "{key} expires: {ttl}");
        let dump = redis.cli(&["--no-raw", "DUMP", key]) + &redis.cli(&["HGETALL", key]) + key;
        let creds = sb.credentials();
        let secrets = [creds.api_key.as_str(), creds.username.as_str(), creds.password.as_str(), PASSWORD];
        for secret in secrets.into_iter().chain(["127.0.0.1"]) {
            assert!(!dump.contains(secret), "{key} holds {secret:?}");
        }
        for person in sb.records().iter().take(50) {
            assert!(!dump.contains(person.nik()), "{key} holds a NIK");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_killed_mid_run_costs_no_row_and_is_rejoined() {
    let mut redis = Redis::start();
    let sb = gateway().await;
    let clients: Vec<Vision> = (0..2).map(|_| process(&sb, &redis.url())).collect();
    let killer = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        redis.0.kill();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let cut_off = clients.iter().any(|c| c.pacing().store.is_some_and(|s| !s.connected));
        redis.0.restart();
        cut_off
    };
    let (out, cut_off) = tokio::join!(run(&sb, &clients, 600), killer);
    assert!(out.iter().all(|(failed, _)| *failed == 0), "{out:?}");
    assert!(cut_off, "the clients saw the store gone");
    // After the run, the next calls find the store back.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let again = run(&sb, &clients, 50).await;
    assert!(again.iter().all(|(failed, _)| *failed == 0), "{again:?}");
    for vision in &clients {
        let store = vision.pacing().store.unwrap();
        assert!(store.connected, "rejoined: {store:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_or_a_wrong_password_costs_no_row_and_shows_no_secret() {
    let redis = Redis::start();
    let sb = gateway().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let urls = [
        format!("redis://:{PASSWORD}@127.0.0.1:{closed}/0"),
        format!("redis://:wrong-secret-1234@127.0.0.1:{}/0", redis.0.port()),
    ];
    for url in urls {
        let vision = process(&sb, &url);
        let shown = format!("{vision:?} {:?}", vision.pacing_url());
        assert!(!shown.contains(PASSWORD) && !shown.contains("wrong-secret-1234"), "{shown}");
        let out = run(&sb, std::slice::from_ref(&vision), 300).await;
        assert_eq!(out[0].0, 0, "no row failed with {}", vision.pacing_url().unwrap());
        let pacing = vision.pacing();
        let store = pacing.store.unwrap();
        assert!(!store.connected && !store.joined, "{store:?}");
        assert!(pacing.rate.is_some(), "paced alone after its 429s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rediss_store_is_trusted_through_the_clients_ca_bundle() {
    let redis = RedisServer::start_tls(PASSWORD);
    let ca = std::fs::read_to_string(redis.ca_file().unwrap()).unwrap();
    let sb = gateway().await;
    let trusting = sb.vision_builder().pacing_url(redis.url(0)).ca_bundle(ca.as_str()).build().unwrap();
    let untrusting = sb.vision_builder().pacing_url(redis.url(0)).build().unwrap();
    let out = run(&sb, &[trusting.clone(), untrusting.clone()], 300).await;
    assert!(out.iter().all(|(failed, _)| *failed == 0), "{out:?}");
    let (joined, alone) = (trusting.pacing().store.unwrap(), untrusting.pacing().store.unwrap());
    assert!(joined.joined && joined.connected, "TLS with the client's CA bundle: {joined:?}");
    assert!(!alone.connected && !alone.joined, "a certificate nobody trusts: {alone:?}");
    assert!(redis.cli(0, &["--scan"]).contains("glair-vision:pacing:{"));
}

#[test]
fn a_bad_pacing_url_is_refused_before_anything_is_sent() {
    for bad in ["http://cache:6379", "redis://", "cache:6379"] {
        let err =
            Vision::builder().api_key("k").username("u").password("p").pacing_url(bad).build().unwrap_err();
        assert_eq!(err.kind(), glair_vision::ErrorKind::Configuration, "{bad}: {err}");
        assert!(err.to_string().contains("pacing_url"), "{err}");
    }
}
