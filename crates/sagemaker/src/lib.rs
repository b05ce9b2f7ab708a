//! sagestack-sagemaker (being written).
