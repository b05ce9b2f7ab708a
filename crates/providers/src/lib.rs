//! sagestack-providers (being written).
