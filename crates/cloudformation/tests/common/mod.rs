//! Test support shared by the CloudFormation integration tests: a service over a fresh
//! in-memory store, and the delete every lifecycle test ends with.
#![allow(dead_code)]

use std::sync::Arc;

use sagestack_cloudformation::*;
use sagestack_engine::{MemoryStore, StackRecord};

/// The configuration of a service in `region` of `account` over a fresh in-memory store.
pub fn memory_config(region: &str, account: &str) -> ServiceConfig {
    ServiceConfig::new(region, account, Arc::new(MemoryStore::new()))
}

/// A service built from [`memory_config`] alone.
pub fn memory_service(region: &str, account: &str) -> CloudFormationService {
    CloudFormationService::new(memory_config(region, account)).unwrap()
}

/// Deletes stack `name` and waits: the stack must end `DELETE_COMPLETE`.
pub async fn delete_completely(service: &CloudFormationService, name: &str) -> StackRecord {
    let deleted = service.delete_stack_and_wait(name).await.unwrap().unwrap();
    assert_eq!(deleted.status, StackStatus::DeleteComplete);
    deleted
}
