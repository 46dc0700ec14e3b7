//! The sandbox as any HTTP client sees it: encodings, auth, limits, headers,
//! introspection, loading people from files.

use std::time::Duration;

use glair_vision_sandbox::{
    load_records, Sandbox, SandboxConfig, DEFAULT_API_KEY, DEFAULT_PASSWORD, DEFAULT_USERNAME,
};
use serde_json::{json, Value};

const SITI: &str = "3171014508900001";

/// Form fields of one request.
type Fields<'a> = &'a [(&'a str, &'a str)];

struct Call {
    status: u16,
    body: String,
    headers: reqwest::header::HeaderMap,
}

impl Call {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn endpoint(sb: &Sandbox) -> String {
    format!("{}/identity/v1/verification", sb.url())
}

fn authed(builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    builder.basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD)).header("x-api-key", DEFAULT_API_KEY)
}

async fn send(builder: reqwest::RequestBuilder) -> Call {
    let response = builder.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Call { status, body: response.text().await.unwrap(), headers }
}

async fn form(sb: &Sandbox, fields: &[(&str, &str)]) -> Call {
    let body = serde_urlencoded::to_string(fields).unwrap();
    send(
        authed(reqwest::Client::new().post(endpoint(sb)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await
}

#[tokio::test]
async fn accepts_all_three_encodings_and_answers_only_the_fields_sent() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = reqwest::Client::new();
    let urlencoded = form(&sb, &[("nik", SITI), ("name", "SITI RAHAYU")]).await;
    let json_body =
        send(authed(client.post(endpoint(&sb))).json(&json!({"nik": SITI, "name": "SITI RAHAYU"}))).await;
    let multipart = send(
        authed(client.post(endpoint(&sb)))
            .multipart(reqwest::multipart::Form::new().text("nik", SITI).text("name", "SITI RAHAYU")),
    )
    .await;
    for call in [urlencoded, json_body, multipart] {
        assert_eq!(call.status, 200, "{}", call.body);
        assert_eq!(
            call.json(),
            json!({"verification_status": true, "reason": "Verification Success", "result": {"nik": true, "name": true}})
        );
    }
}

#[tokio::test]
async fn every_answer_has_a_request_id_and_the_sandbox_mark() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = reqwest::Client::new();
    let calls = [
        form(&sb, &[("nik", SITI)]).await,
        send(client.post(endpoint(&sb)).form(&[("nik", SITI)])).await,
        send(client.get(format!("{}/nowhere", sb.url()))).await,
        send(client.get(format!("{}/_sandbox/health", sb.url()))).await,
        send(client.get(endpoint(&sb))).await,
    ];
    let mut ids = std::collections::HashSet::new();
    for call in &calls {
        let id = call.headers.get("request-id").expect("Request-Id").to_str().unwrap().to_owned();
        assert!(ids.insert(id), "ids are unique");
        assert_eq!(call.headers.get("x-glair-sandbox").unwrap(), "true");
    }
    assert_eq!(calls[1].status, 403);
    assert_eq!(calls[1].json(), json!({"error": "Access to this API has been disallowed"}));
    assert_eq!(calls[2].status, 404);
    assert_eq!(calls[4].status, 405);
}

#[tokio::test]
async fn checks_the_api_key_and_basic_auth() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = reqwest::Client::new();
    let wrong_password = send(
        client
            .post(endpoint(&sb))
            .basic_auth(DEFAULT_USERNAME, Some("nope"))
            .header("x-api-key", DEFAULT_API_KEY)
            .form(&[("nik", SITI)]),
    )
    .await;
    assert_eq!(wrong_password.status, 401);
    let no_basic =
        send(client.post(endpoint(&sb)).header("x-api-key", DEFAULT_API_KEY).form(&[("nik", SITI)])).await;
    assert_eq!(no_basic.status, 401);
    let wrong_key = send(
        client
            .post(endpoint(&sb))
            .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
            .header("x-api-key", "x")
            .form(&[("nik", SITI)]),
    )
    .await;
    assert_eq!(wrong_key.status, 403);
}

#[tokio::test]
async fn rejects_bad_input_with_documented_reasons() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let cases: &[(Fields, u16, &str)] = &[
        (&[("nik", "12345")], 400, "Invalid NIK number format"),
        (&[("name", "SITI")], 400, "NIK is required"),
        (&[("nik", SITI), ("date_of_birth", "1990-08-05")], 400, "Invalid date_of_birth format"),
        (&[("nik", SITI), ("gender", "X")], 400, "Invalid gender format"),
        (&[("nik", SITI), ("nama", "SITI")], 400, "Unknown field: nama"),
        (&[("nik", SITI), ("nik", SITI)], 400, "Duplicate field: nik"),
    ];
    for (fields, status, reason) in cases {
        let call = form(&sb, fields).await;
        assert_eq!((call.status, call.json()["reason"].as_str().unwrap()), (*status, *reason), "{fields:?}");
    }
    let long_name = "A".repeat(101);
    let call = form(&sb, &[("nik", SITI), ("name", &long_name)]).await;
    assert_eq!(call.json()["reason"], "name is too long");
    let huge = "A".repeat(glair_vision_sandbox::MAX_BODY_BYTES + 1);
    let call = form(&sb, &[("nik", SITI), ("address", &huge)]).await;
    assert_eq!(call.status, 413);
    let call = send(
        authed(reqwest::Client::new().post(endpoint(&sb))).header("content-type", "text/plain").body("nik"),
    )
    .await;
    assert_eq!(call.status, 415);
}

#[tokio::test]
async fn introspection_lists_people_and_received_requests() {
    let sb = Sandbox::start(SandboxConfig { synthetic: 10, ..Default::default() }).await.unwrap();
    let client = reqwest::Client::new();
    let all = send(client.get(format!("{}/_sandbox/records", sb.url()))).await.json();
    assert_eq!(all.as_array().unwrap().len(), 13, "3 fixtures + 10 synthetic");
    let page = send(client.get(format!("{}/_sandbox/records?offset=1&limit=2", sb.url()))).await.json();
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert_eq!(page[0]["nik"], "3273012305850002");

    form(&sb, &[("nik", SITI), ("rt", "1")]).await;
    let log = send(client.get(format!("{}/_sandbox/requests", sb.url()))).await.json();
    assert_eq!(log[0]["fields"], json!([["nik", SITI], ["rt", "1"]]));
    assert_eq!(log[0]["status"], 200);
    assert_eq!(send(client.delete(format!("{}/_sandbox/requests", sb.url()))).await.status, 204);
    assert!(sb.received().is_empty());
}

#[tokio::test]
async fn failure_rate_and_latency_apply_to_every_answer() {
    let sb = Sandbox::start(SandboxConfig {
        failure_rate: 1.0,
        latency: Duration::from_millis(150),
        ..Default::default()
    })
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let call = form(&sb, &[("nik", SITI), ("name", "X")]).await;
    assert!(started.elapsed() >= Duration::from_millis(140));
    assert_eq!(call.status, 503);
    assert_eq!(
        call.json(),
        json!({"verification_status": false, "reason": "Something wrong in Dukcapil server", "result": {"nik": null, "name": null}})
    );
}

#[tokio::test]
async fn loads_people_from_csv_and_jsonl_and_stops_cleanly() {
    let dir = std::env::temp_dir().join(format!("glair-sandbox-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("people.csv");
    std::fs::write(&csv, "nik,name,gender,rt\n3578054107000123,NUR AINI,P,7\n3578051001000124,ANDI,,\n")
        .unwrap();
    let jsonl = dir.join("people.jsonl");
    std::fs::write(
        &jsonl,
        "{\"nik\":\"3578054107000125\",\"name\":\"RINI\"}\n\n{\"nik\":\"3578054107000126\"}\n",
    )
    .unwrap();
    let from_csv = load_records(&csv).unwrap();
    assert_eq!(from_csv.len(), 2);
    assert_eq!(from_csv[0].get(glair_vision::Field::Gender), Some("PEREMPUAN"));
    assert_eq!(from_csv[0].get(glair_vision::Field::Rt), Some("007"));
    assert_eq!(load_records(&jsonl).unwrap().len(), 2);
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "nik,nama\n3578054107000123,X\n").unwrap();
    assert!(load_records(&bad).unwrap_err().to_string().contains("unknown column `nama`"));
    let invalid = dir.join("invalid.jsonl");
    std::fs::write(&invalid, "{\"nik\":\"123\"}\n").unwrap();
    assert!(load_records(&invalid).unwrap_err().to_string().contains("line 1"));

    let sb = Sandbox::start(SandboxConfig { records: from_csv, ..Default::default() }).await.unwrap();
    let call = form(&sb, &[("nik", "3578054107000123"), ("name", "Nur Aini"), ("rt", "007")]).await;
    assert_eq!(call.json()["verification_status"], true);
    let addr = sb.addr();
    sb.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "port released");
    std::fs::remove_dir_all(dir).ok();
}

/// Polls `done` until it holds; panics after 60 s (a bound on a hang).
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(60), "{what}: not within 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_held_until_released_over_http_and_in_rust() {
    let sb = std::sync::Arc::new(Sandbox::start(SandboxConfig::default()).await.unwrap());
    let client = reqwest::Client::new();
    let stats = || async { send(client.get(format!("{}/_sandbox/stats", sb.url()))).await.json() };
    assert_eq!((stats().await["in_flight"].clone(), stats().await["held"].clone()), (json!(0), json!(0)));
    // Over HTTP: the next answer goes, the one after is held.
    let hold = send(client.post(format!("{}/_sandbox/hold?after=1", sb.url()))).await;
    assert_eq!(hold.status, 204);
    assert_eq!(form(&sb, &[("nik", SITI)]).await.status, 200);
    let held = {
        let sb = sb.clone();
        tokio::spawn(async move { form(&sb, &[("nik", SITI), ("name", "SITI RAHAYU")]).await })
    };
    wait_until("one answer held", || sb.held() == 1).await;
    assert_eq!((sb.in_flight(), sb.received().len()), (1, 2), "held: received, logged, in flight");
    let s = stats().await;
    assert_eq!((s["held"].clone(), s["in_flight"].clone()), (json!(1), json!(1)));
    assert!(!held.is_finished());
    let release = send(client.post(format!("{}/_sandbox/release", sb.url()))).await;
    assert_eq!(release.status, 204);
    let answer = held.await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["result"]["name"], true);
    assert_eq!((sb.held(), sb.in_flight()), (0, 0));

    // In Rust, for one NIK: other answers go, and a client that goes away is no longer counted.
    sb.hold_nik(SITI, 0);
    assert_eq!(form(&sb, &[("nik", "3273012305850002")]).await.status, 200);
    let gone = {
        let sb = sb.clone();
        tokio::spawn(async move { form(&sb, &[("nik", SITI)]).await })
    };
    wait_until("SITI's answer held", || sb.held() == 1).await;
    gone.abort();
    let _ = gone.await;
    sb.release();
    wait_until("nothing in flight", || sb.in_flight() == 0 && sb.held() == 0).await;
    assert_eq!(form(&sb, &[("nik", SITI)]).await.status, 200, "released: answered at once");
}
