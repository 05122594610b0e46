//! Simple, documented controller dynamics.
