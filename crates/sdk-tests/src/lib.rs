//! This crate only holds tests (`tests/sdk.rs`): the AWS SDK for Rust driving a real
//! `sagestack serve` process.
