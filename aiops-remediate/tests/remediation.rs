//! End-to-end remediation tests against the simulator (filled in below).
