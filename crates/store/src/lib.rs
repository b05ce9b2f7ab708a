//! sagestack-store (being written).
