//! Simulated Dahua cameras.
