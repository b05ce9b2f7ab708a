//! This crate only holds tests (`tests/sdk.rs` for SageMaker, `tests/cloudformation.rs`
//! for CloudFormation): the AWS SDK for Rust driving a real
//! `sagestack serve` process.
