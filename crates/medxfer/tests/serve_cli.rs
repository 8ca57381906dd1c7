//! `medxfer serve` over real HTTP on a toy run: predictions equal `medxfer predict`'s, the
//! overlay is a PNG of the image's size, DICOM is de-identified, every error path answers with
//! its status (413, 415, 422, 401, 404, 503) and the metrics count the requests.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;

use support::{
    assert_success, medxfer, one_line_error, tiny_dicom, train_to_the_end, write_toy_dataset,
    write_toy_run_config,
};

const TOKEN: &str = "serve-cli-test-token-0123456789";

/// The toy run (trained once for the whole file) and its data folder.
fn toy_run() -> &'static (tempfile::TempDir, PathBuf) {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        write_toy_dataset(&data, 8);
        let config = write_toy_run_config(dir.path(), &data, false);
        train_to_the_end(&config);
        let run = dir.path().join("run");
        (dir, run)
    })
}

fn toy_image() -> PathBuf {
    toy_run().0.path().join("data/right/right (0).png")
}

/// A running `medxfer serve`, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server on a free loopback port and waits for its address line.
fn serve(extra: &[&str]) -> Server {
    let mut child = medxfer()
        .arg("serve")
        .arg(&toy_run().1)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server ended before listening")
            .unwrap();
        if let Some(rest) = line.split(" on http://").nth(1) {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, addr }
}

struct Answer {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&self.body));
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &[&str], body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    read_answer(stream)
}

fn read_answer(mut stream: TcpStream) -> Answer {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers.split_whitespace().nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// A POST whose headers (one given here) are sent without a body.
fn request_with_head(addr: SocketAddr, path: &str, header: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head =
        format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{header}\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    read_answer(stream)
}

fn post(addr: SocketAddr, path: &str, body: &[u8]) -> Answer {
    request(addr, "POST", path, &[], body)
}

fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "GET", path, &[], b"")
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let value = ALPHABET.iter().position(|&a| a == c).expect("not base64") as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// `medxfer predict --json` on the same image: the reference the API must reproduce.
fn cli_probabilities(image: &Path) -> serde_json::Value {
    let output = medxfer()
        .arg("predict")
        .arg(&toy_run().1)
        .arg(image)
        .arg("--json")
        .output()
        .unwrap();
    assert_success(&output);
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    rows[0]["probabilities"].clone()
}

#[test]
fn predict_matches_the_cli_and_explain_returns_an_overlay() {
    let server = serve(&[]);
    let image = std::fs::read(toy_image()).unwrap();
    let answer = post(server.addr, "/v1/predict", &image);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let json = answer.json();
    let reference = cli_probabilities(&toy_image());
    let mut total = 0.0;
    for p in json["probabilities"].as_array().unwrap() {
        let class = p["class"].as_str().unwrap();
        let ours = p["probability"].as_f64().unwrap();
        let theirs = reference[class].as_f64().unwrap();
        // Same models, same preprocessing; f32 outputs averaged in f64 either way.
        assert!((ours - theirs).abs() < 1e-6, "{class}: {ours} vs {theirs}");
        total += ours;
    }
    assert!((total - 1.0).abs() < 1e-5, "{total}");
    let right = reference["right"].as_f64().unwrap();
    let expected = if right >= 0.5 { "right" } else { "left" };
    assert_eq!(json["decision"]["class"], expected);
    assert_eq!(json["decision"]["threshold"], 0.5);
    assert_eq!(json["models"], 2);
    assert_eq!(json["input"]["format"], "png");
    assert!(
        answer.headers.contains("cache-control: no-store"),
        "{}",
        answer.headers
    );

    let answer = post(server.addr, "/v1/explain", &image);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let explained = answer.json();
    assert_eq!(explained["explanation"]["class"], expected);
    // The probabilities come from the explanation's own forward pass: the same numbers.
    for (a, b) in explained["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .zip(json["probabilities"].as_array().unwrap())
    {
        let (a, b) = (
            a["probability"].as_f64().unwrap(),
            b["probability"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
    let json = explained;
    let png = base64_decode(json["explanation"]["png_base64"].as_str().unwrap());
    let overlay = image::load_from_memory(&png).unwrap();
    assert_eq!((overlay.width(), overlay.height()), (40, 32));
}

/// `--fold K` serves fold K's model alone: the card says so, and the two single-fold
/// servers' probabilities average to the ensemble's. A fold the run lacks is refused.
#[test]
fn one_fold_serves_alone_and_the_folds_average_to_the_ensemble() {
    let image = std::fs::read(toy_image()).unwrap();
    let probabilities = |extra: &[&str]| {
        let server = serve(extra);
        let answer = post(server.addr, "/v1/predict", &image).json();
        let card = get(server.addr, "/v1/model").json();
        let p: Vec<f64> = answer["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["probability"].as_f64().unwrap())
            .collect();
        (p, answer["models"].clone(), card)
    };
    let (ensemble, models, card) = probabilities(&[]);
    assert_eq!(models, 2);
    assert!(card.get("folds").is_none(), "{card}");
    let (fold0, models, card) = probabilities(&["--fold", "0"]);
    assert_eq!(models, 1);
    assert_eq!(card["folds"], serde_json::json!([0]));
    let limits = card["limits"].to_string();
    assert!(limits.contains("fold(s) 0 only"), "{limits}");
    let (fold1, _, _) = probabilities(&["--fold", "1"]);
    for c in 0..ensemble.len() {
        let mean = (fold0[c] + fold1[c]) / 2.0;
        assert!(
            (mean - ensemble[c]).abs() < 1e-6,
            "{mean} vs {}",
            ensemble[c]
        );
    }
    let output = medxfer()
        .arg("serve")
        .arg(&toy_run().1)
        .args(["--addr", "127.0.0.1:0", "--fold", "5"])
        .output()
        .unwrap();
    let line = one_line_error(&output);
    assert!(line.contains("fold 5 has no finished model"), "{line}");
    assert!(line.contains("fold_0, fold_1"), "{line}");
}

#[test]
fn dicom_is_deidentified_and_answered() {
    let server = serve(&[]);
    let dicom = tiny_dicom(32, 40, "CT", None);
    let answer = post(server.addr, "/v1/predict", &dicom);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let json = answer.json();
    assert_eq!(json["input"]["format"], "dicom");
    assert_eq!(json["input"]["deidentified"], true);
    assert_eq!(
        (
            json["input"]["width"].as_u64(),
            json["input"]["height"].as_u64()
        ),
        (Some(40), Some(32))
    );
    assert!(!answer.text().contains("Doe"), "{}", answer.text());
    // Ultrasound usually burns text into the pixels: the answer says so.
    let answer = post(server.addr, "/v1/predict", &tiny_dicom(32, 40, "US", None));
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["input"]["pixels_may_show_text"], true);
}

#[test]
fn every_error_path_has_its_status() {
    let server = serve(&["--max-body-mb", "1"]);
    // Declared too large: refused from the header, before any of the body is read (sending
    // it too could make the kernel reset the connection over the answer).
    let declared = format!("Content-Length: {}", (1 << 20) + 1);
    let answer = request_with_head(server.addr, "/v1/predict", &declared);
    assert_eq!(answer.status, 413, "{}", answer.text());
    // Exactly at the limit is read, then refused as not an image.
    let at_limit = vec![0u8; 1 << 20];
    assert_eq!(post(server.addr, "/v1/predict", &at_limit).status, 415);

    let answer = post(
        server.addr,
        "/v1/predict",
        b"patient: Doe^John, not an image",
    );
    assert_eq!(answer.status, 415, "{}", answer.text());
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("not a PNG, JPEG or DICOM")
    );
    assert!(!answer.text().contains("Doe"));

    // A file path is not an upload either: the server never opens what a client names.
    let path = toy_image().display().to_string();
    assert_eq!(
        post(server.addr, "/v1/predict", path.as_bytes()).status,
        415
    );

    // DICM at offset 128 but nothing DICOM after it; and a truncated PNG.
    let mut bad_dicom = vec![0u8; 128];
    bad_dicom.extend(b"DICM");
    bad_dicom.extend([0xAB; 64]);
    let answer = post(server.addr, "/v1/explain", &bad_dicom);
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert!(!answer.text().contains("/tmp"), "{}", answer.text());
    let truncated = &std::fs::read(toy_image()).unwrap()[..40];
    assert_eq!(post(server.addr, "/v1/predict", truncated).status, 422);
    // A DICOM whose pixel data length lies.
    let lying = tiny_dicom(32, 40, "CT", Some(1 << 30));
    assert_eq!(post(server.addr, "/v1/predict", &lying).status, 422);

    let answer = get(server.addr, "/v1/nothing");
    assert_eq!(answer.status, 404);
    assert_eq!(get(server.addr, "/../../etc/passwd").status, 404);
    assert_eq!(get(server.addr, "/v1/predict").status, 405);
    // The server is still up after all that.
    assert_eq!(get(server.addr, "/healthz").status, 200);
}

#[test]
fn the_token_guards_the_api_but_not_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let server = serve(&["--token-file", token_file.to_str().unwrap()]);
    let image = std::fs::read(toy_image()).unwrap();
    let missing = post(server.addr, "/v1/predict", &image);
    assert_eq!(missing.status, 401);
    assert!(
        missing
            .headers
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer")
    );
    let wrong = request(
        server.addr,
        "POST",
        "/v1/predict",
        &["Authorization: Bearer serve-cli-test-token-0123456788"],
        &image,
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        request(server.addr, "GET", "/v1/model", &[], b"").status,
        401
    );
    assert_eq!(
        request(server.addr, "GET", "/metrics", &[], b"").status,
        401
    );
    let auth = format!("Authorization: Bearer {TOKEN}");
    let right = request(server.addr, "POST", "/v1/predict", &[&auth], &image);
    assert_eq!(right.status, 200, "{}", right.text());
    assert_eq!(get(server.addr, "/").status, 200);
    assert_eq!(get(server.addr, "/healthz").status, 200);
}

#[test]
fn a_public_address_without_a_token_is_refused() {
    let output = medxfer()
        .arg("serve")
        .arg(&toy_run().1)
        .args(["--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    let line = one_line_error(&output);
    assert!(line.contains("without a bearer token"), "{line}");
    let output = medxfer()
        .args(["serve", "/nonexistent/run", "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    let line = one_line_error(&output);
    assert!(line.contains("/nonexistent/run"), "{line}");
}

#[test]
fn page_card_openapi_and_metrics() {
    let server = serve(&[]);
    let page = get(server.addr, "/");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("id=\"overlay\"") && html.contains("/v1/explain"));
    // Offline: nothing is fetched from another host.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "external reference in the page"
    );
    assert!(
        page.headers
            .to_ascii_lowercase()
            .contains("content-security-policy")
    );

    let card = get(server.addr, "/v1/model").json();
    assert_eq!(card["classes"], serde_json::json!(["left", "right"]));
    assert_eq!(card["models"], 2);
    assert_eq!(card["metrics"]["test_images"], 16);
    assert!(card["metrics"]["auc_ci"]["low"].is_number(), "{card}");
    assert!(
        card["intended_use"]
            .as_str()
            .unwrap()
            .contains("Not a medical device")
    );
    assert!(card["limits"].as_array().unwrap().len() >= 5);
    assert_eq!(card["run"], "run");
    // The dataset's name, not the server's folders.
    assert_eq!(card["training"]["data_source"]["root"], "data");

    let openapi = get(server.addr, "/openapi.json").json();
    assert_eq!(openapi["openapi"], "3.0.3");
    assert!(openapi["paths"]["/v1/explain"]["post"]["responses"]["415"].is_object());

    let image = std::fs::read(toy_image()).unwrap();
    for _ in 0..3 {
        assert_eq!(post(server.addr, "/v1/predict", &image).status, 200);
    }
    assert_eq!(post(server.addr, "/v1/predict", b"nope").status, 415);
    assert_eq!(get(server.addr, "/missing").status, 404);
    let metrics = get(server.addr, "/metrics");
    assert!(metrics.headers.contains("text/plain; version=0.0.4"));
    let text = metrics.text();
    for line in [
        "medxfer_http_requests_total{route=\"/v1/predict\",status=\"200\"} 3",
        "medxfer_http_requests_total{route=\"/v1/predict\",status=\"415\"} 1",
        "medxfer_http_requests_total{route=\"unknown\",status=\"404\"} 1",
        "medxfer_http_requests_total{route=\"/v1/model\",status=\"200\"} 1",
        "medxfer_http_request_duration_seconds_count{route=\"/v1/predict\"} 4",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

/// One inference at a time and no queue: of simultaneous uploads some are turned away with
/// 503 + Retry-After, none crash the server, and the rest are answered.
#[test]
fn a_full_queue_answers_503_and_the_server_survives() {
    let server = serve(&[
        "--max-concurrent",
        "1",
        "--queue",
        "0",
        "--max-body-mb",
        "16",
    ]);
    // A large noisy image: decoding and resizing it keeps the single worker busy a while.
    let big = image::GrayImage::from_fn(1500, 1500, |x, y| {
        image::Luma([((x * 31 + y * 17) ^ (x * y)) as u8])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    big.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png = std::sync::Arc::new(png.into_inner());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let addr = server.addr;
    let answers: Vec<Answer> = (0..8)
        .map(|_| {
            let (png, barrier) = (png.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                post(addr, "/v1/explain", &png)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let busy: Vec<&Answer> = answers.iter().filter(|a| a.status == 503).collect();
    let done = answers.iter().filter(|a| a.status == 200).count();
    assert!(!busy.is_empty(), "no request was turned away");
    assert!(done >= 1, "none was answered");
    assert_eq!(busy.len() + done, 8, "other statuses");
    assert!(
        busy[0]
            .headers
            .to_ascii_lowercase()
            .contains("retry-after: 1")
    );
    assert_eq!(get(addr, "/healthz").status, 200);
    assert!(
        get(addr, "/metrics")
            .text()
            .contains("medxfer_inference_rejected_total")
    );
}

#[test]
fn a_request_over_the_time_limit_answers_503() {
    let server = serve(&["--timeout-s", "0.001", "--max-body-mb", "16"]);
    let big = image::GrayImage::from_fn(1200, 1200, |x, y| image::Luma([((x ^ y) * 7) as u8]));
    let mut png = std::io::Cursor::new(Vec::new());
    big.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let answer = post(server.addr, "/v1/explain", png.get_ref());
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("took longer")
    );
    assert_eq!(get(server.addr, "/healthz").status, 200);
}
