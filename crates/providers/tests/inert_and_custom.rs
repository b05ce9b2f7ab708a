//! Inert types, custom resources and the fallback that routes between providers.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};

use common::{create_failure, ctx};
use sagestack_engine::provider::{
    ProviderError, ProviderRegistry, ResourceProvider, ResourceState,
};
use sagestack_providers::{
    CustomResourceProvider, CustomResourceRequest, CustomResourceResponse, CustomResourceTransport,
    FallbackProvider, InertProvider, unrecognized_types_message,
};

type Answer =
    Box<dyn Fn(&CustomResourceRequest) -> Result<CustomResourceResponse, String> + Send + Sync>;

/// Records requests and answers with a canned response.
struct Recorder {
    seen: Mutex<Vec<(String, CustomResourceRequest)>>,
    answer: Answer,
}

impl Recorder {
    fn new(
        answer: impl Fn(&CustomResourceRequest) -> Result<CustomResourceResponse, String>
        + Send
        + Sync
        + 'static,
    ) -> Arc<Recorder> {
        Arc::new(Recorder {
            seen: Mutex::new(vec![]),
            answer: Box::new(answer),
        })
    }
}

#[async_trait]
impl CustomResourceTransport for Recorder {
    async fn send(
        &self,
        endpoint: &str,
        request: &CustomResourceRequest,
    ) -> Result<CustomResourceResponse, String> {
        self.seen
            .lock()
            .unwrap()
            .push((endpoint.to_string(), request.clone()));
        (self.answer)(request)
    }
}

fn success(id: Option<&str>, data: Value) -> CustomResourceResponse {
    CustomResourceResponse {
        status: "SUCCESS".into(),
        reason: None,
        physical_resource_id: id.map(str::to_string),
        data: data.as_object().cloned(),
        no_echo: None,
    }
}

const TOKEN: &str = "arn:aws:lambda:us-east-1:123456789012:function:seed";

#[tokio::test]
async fn custom_resource_round_trip() {
    let t = Recorder::new(|r| {
        Ok(success(
            Some(&format!("seed-{}", r.request_type.to_lowercase())),
            json!({"Value": r.resource_properties["Size"].clone()}),
        ))
    });
    let p = CustomResourceProvider::new(t.clone())
        .with_handler(TOKEN, "http://127.0.0.1:9000/hook")
        .with_seed(1);
    let c = ctx("Custom::Seed", "Seeder");
    let props = json!({"ServiceToken": TOKEN, "Size": "3"});

    let created = p.create(&c, &props).await.unwrap();
    assert_eq!(created.physical_id, "seed-create");
    assert_eq!(created.attributes["Value"], json!("3"));

    let new_props = json!({"ServiceToken": TOKEN, "Size": "4"});
    let updated = p.update(&c, &created, &props, &new_props).await.unwrap();
    assert_eq!(updated.physical_id, "seed-update");
    assert_eq!(updated.attributes["Value"], json!("4"));
    p.delete(&c, &updated, &new_props).await.unwrap();

    let seen = t.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    let (endpoint, create) = &seen[0];
    assert_eq!(endpoint, "http://127.0.0.1:9000/hook");
    let wire = serde_json::to_value(create).unwrap();
    for key in [
        "RequestType",
        "ResponseURL",
        "StackId",
        "RequestId",
        "ResourceType",
        "LogicalResourceId",
        "ResourceProperties",
        "ServiceToken",
    ] {
        assert!(wire.get(key).is_some(), "request lacks {key}: {wire}");
    }
    assert!(wire.get("PhysicalResourceId").is_none());
    assert_eq!(wire["ResourceProperties"]["ServiceToken"], json!(TOKEN));
    let update = serde_json::to_value(&seen[1].1).unwrap();
    assert_eq!(update["RequestType"], "Update");
    assert_eq!(update["PhysicalResourceId"], "seed-create");
    assert_eq!(update["OldResourceProperties"]["Size"], "3");
    let delete = serde_json::to_value(&seen[2].1).unwrap();
    assert_eq!(delete["RequestType"], "Delete");
    assert_eq!(delete["PhysicalResourceId"], "seed-update");
    assert_ne!(seen[0].1.request_id, seen[1].1.request_id);
}

#[tokio::test]
async fn custom_resource_failures_are_explained() {
    let c = ctx("AWS::CloudFormation::CustomResource", "Seeder");
    let props = json!({"ServiceToken": TOKEN});

    let unconfigured = CustomResourceProvider::default();
    let err = unconfigured.create(&c, &props).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::InvalidRequest(m) if m.contains("cannot be created with ServiceToken arn:aws:lambda:us-east-1:123456789012:function:seed: no handler is configured for it")),
        "{err}"
    );
    let err = unconfigured.create(&c, &json!({})).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Properties validation failed for resource Seeder with message: #: required key [ServiceToken] not found"
    );

    let failing = CustomResourceProvider::new(Recorder::new(|_| {
        Ok(CustomResourceResponse {
            status: "FAILED".into(),
            reason: Some("bucket not empty".into()),
            physical_resource_id: None,
            data: None,
            no_echo: None,
        })
    }))
    .with_handler(TOKEN, "http://h/");
    let err = failing.create(&c, &props).await.unwrap_err();
    assert!(
        err.to_string().starts_with(
            "Received response status [FAILED] from custom resource. Message returned: bucket not empty (RequestId: "
        ),
        "{err}"
    );

    let unreachable =
        CustomResourceProvider::new(Recorder::new(|_| Err("connection refused".into())))
            .with_handler(TOKEN, "http://h/");
    let err = unreachable.create(&c, &props).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Internal(
            "Custom resource Seeder (Create): the handler at http://h/ failed: connection refused"
                .into()
        )
    );

    let big = CustomResourceProvider::new(Recorder::new(|_| {
        Ok(success(Some("x"), json!({"Blob": "x".repeat(5000)})))
    }))
    .with_handler(TOKEN, "http://h/");
    assert_eq!(
        big.create(&c, &props).await.unwrap_err().to_string(),
        "Response object is too long."
    );

    let ok = CustomResourceProvider::new(Recorder::new(|_| Ok(success(None, json!({})))))
        .with_handler(TOKEN, "http://h/")
        .with_handler("other", "http://o/");
    let state = ok.create(&c, &props).await.unwrap();
    assert!(
        state.physical_id.starts_with("demo-Seeder-"),
        "{}",
        state.physical_id
    );
    let err = ok
        .update(&c, &state, &props, &json!({"ServiceToken": "other"}))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "Modifying service token is not allowed.");
}

#[tokio::test]
async fn inert_types_are_opt_in() {
    let p = InertProvider::only(["Vendor::Thing::Widget"]).with_seed(2);
    let c = ctx("Vendor::Thing::Widget", "W");
    let s = p
        .create(&c, &json!({"Anything": {"goes": true}}))
        .await
        .unwrap();
    assert!(s.physical_id.starts_with("demo-W-"));
    assert!(s.attributes.is_empty());
    assert_eq!(
        p.create(&c, &json!({})).await.unwrap(),
        s,
        "seeded ids repeat"
    );
    assert_eq!(
        p.update(&c, &s, &json!({}), &json!({"x": 1}))
            .await
            .unwrap(),
        s
    );
    assert_eq!(p.read(&c, &s, &json!({})).await.unwrap(), Some(s.clone()));
    p.delete(&c, &s, &json!({})).await.unwrap();

    assert_eq!(
        create_failure(&p, "Vendor::Thing::Other", "O").await,
        "Resource type Vendor::Thing::Other is not supported by sagestack (enable inert types to accept it)"
    );
}

#[tokio::test]
async fn the_fallback_routes_by_type() {
    let recorder = Recorder::new(|_| Ok(success(Some("c-1"), json!({"A": "b"}))));
    let mut registry = ProviderRegistry::new();
    FallbackProvider::new()
        .with_inert(InertProvider::only(["Vendor::Thing::*"]))
        .with_custom_resources(
            CustomResourceProvider::new(recorder).with_handler(TOKEN, "http://h/"),
        )
        .install(&mut registry);

    let bucket = registry.get("AWS::S3::Bucket").unwrap();
    let s = bucket
        .create(&ctx("AWS::S3::Bucket", "B"), &json!({"BucketName": "b1"}))
        .await
        .unwrap();
    assert_eq!(s.attributes["Arn"], json!("arn:aws:s3:::b1"));

    let custom = registry.get("Custom::Seed").unwrap();
    let s = custom
        .create(&ctx("Custom::Seed", "C"), &json!({"ServiceToken": TOKEN}))
        .await
        .unwrap();
    assert_eq!(s.physical_id, "c-1");

    let inert = registry.get("Vendor::Thing::Gadget").unwrap();
    let s = inert
        .create(&ctx("Vendor::Thing::Gadget", "G"), &json!({}))
        .await
        .unwrap();
    assert!(s.attributes.is_empty());

    assert!(registry.get("AWS::Nope::Nope").is_none());
    let direct = FallbackProvider::new();
    let err = direct
        .create(&ctx("AWS::Nope::Nope", "N"), &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::UnsupportedType(_)));
    let err: Result<ResourceState, _> = direct
        .update(
            &ctx("Vendor::Thing::Gadget", "G"),
            &ResourceState::default(),
            &json!({}),
            &json!({}),
        )
        .await;
    assert!(err.is_err(), "inert types are off unless configured");

    assert_eq!(
        unrecognized_types_message(&["AWS::Nope::Nope", "Vendor::X::Y"]),
        "Template format error: Unrecognized resource types: [AWS::Nope::Nope, Vendor::X::Y]"
    );
}
