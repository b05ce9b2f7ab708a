//! sagestack-protocol (being written).
