//! sagestack-template (being written).
