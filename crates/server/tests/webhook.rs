//! The plain-HTTP custom-resource transport against a real socket on localhost.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use sagestack_engine::provider::{ResourceContext, ResourceProvider};
use sagestack_providers::{CustomResourceProvider, CustomResourceTransport};
use sagestack_server::webhook::HttpTransport;

/// Serve one connection: read one HTTP request, answer `status` with `body`, and hand back
/// the request's JSON body.
async fn one_shot(status: &'static str, body: String) -> (String, tokio::task::JoinHandle<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let (head_end, length) = loop {
            let n = sock.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before the request ended");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..pos]).to_lowercase();
                assert!(head.starts_with("post /hook http/1.1"), "{head}");
                assert!(head.contains("content-type: application/json"), "{head}");
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse::<usize>().unwrap())
                    .expect("content-length");
                break (pos + 4, len);
            }
        };
        while buf.len() < head_end + length {
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
        }
        let reply = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        sock.write_all(reply.as_bytes()).await.unwrap();
        serde_json::from_slice(&buf[head_end..head_end + length]).unwrap()
    });
    (url, task)
}

fn ctx() -> ResourceContext {
    ResourceContext {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        partition: "aws".into(),
        stack_name: "demo".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/x".into(),
        logical_id: "Seeder".into(),
        resource_type: "Custom::Seed".into(),
        stack_tags: vec![],
        started: 0,
    }
}

#[tokio::test]
async fn a_handler_answers_over_http() {
    let (url, server) = one_shot(
        "200 OK",
        json!({"Status": "SUCCESS", "PhysicalResourceId": "seed-1", "Data": {"Out": "x"}})
            .to_string(),
    )
    .await;
    let p =
        CustomResourceProvider::new(Arc::new(HttpTransport::new())).with_handler("token-1", url);
    let state = p
        .create(&ctx(), &json!({"ServiceToken": "token-1", "In": 1}))
        .await
        .unwrap();
    assert_eq!(state.physical_id, "seed-1");
    assert_eq!(state.attributes["Out"], json!("x"));
    let sent = server.await.unwrap();
    assert_eq!(sent["RequestType"], "Create");
    assert_eq!(sent["LogicalResourceId"], "Seeder");
    assert_eq!(sent["ResourceProperties"]["In"], 1);
}

/// The error of a create sent through `t` to the handler at `url`, which must fail.
async fn create_error(t: &HttpTransport, url: String) -> String {
    CustomResourceProvider::new(Arc::new(t.clone()))
        .with_handler("t", url)
        .create(&ctx(), &json!({"ServiceToken": "t"}))
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn http_errors_and_bad_documents_are_reported() {
    let t = HttpTransport::new().with_timeout(Duration::from_secs(10));
    let (url, _server) = one_shot("500 Internal Server Error", "boom".into()).await;
    let err = create_error(&t, url.clone()).await;
    assert_eq!(
        err,
        format!(
            "Custom resource Seeder (Create): the handler at {url} failed: HTTP 500 Internal Server Error: boom"
        )
    );

    let (url, _server) = one_shot("200 OK", "{\"nope\": 1}".into()).await;
    let err = create_error(&t, url).await;
    assert!(
        err.contains("is not a custom-resource response document"),
        "{err}"
    );

    // Nothing listens on a port just released.
    let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/", free.local_addr().unwrap());
    drop(free);
    let req = serde_json::from_value(json!({
        "RequestType": "Create", "ResponseURL": "", "StackId": "s", "RequestId": "r",
        "ResourceType": "Custom::X", "LogicalResourceId": "L", "ResourceProperties": {},
        "ServiceToken": "t"
    }))
    .unwrap();
    let err = t.send(&dead, &req).await.unwrap_err();
    assert!(err.starts_with("request failed"), "{err}");
    let err = t.send("https://example.com/", &req).await.unwrap_err();
    assert!(err.contains("uses https"), "{err}");
}
