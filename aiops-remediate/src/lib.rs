//! `aiops-remediate` remediates safely: it turns the top hypothesis into one concrete action on
//! a real target from the evidence, computes the action's blast radius, asks the Rego policy
//! gate, obtains an approval when the policy wants one, executes idempotently (dry-run by
//! default), verifies, closes or tickets, and appends every step to a hash-chained audit log.
//!
//! ```
//! use aiops_remediate::policy::{RegoPolicyGate, evaluate_policy};
//! let input = serde_json::json!({
//!     "action_type": "restart_pod", "environment": "development", "namespace": "shop",
//!     "blast_radius_score": 10, "affected_replicas": 1, "current_hour": 12,
//!     "is_weekend": false, "freeze_active": false,
//! });
//! let d = evaluate_policy(&input, None)?;
//! assert_eq!(d.decision, aiops_core::model::Decision::Allow);
//! assert_eq!(d.input["action_type"], "restart_pod");
//! # Ok::<(), aiops_remediate::RemediateError>(())
//! ```

pub mod approve;
pub mod audit;
pub mod error;
#[cfg(feature = "kube")]
pub mod executor;
#[cfg(all(feature = "kube", feature = "jira"))]
pub mod flow;
#[cfg(any(feature = "kube", feature = "slack", feature = "jira"))]
mod http;
#[cfg(feature = "jira")]
pub mod jira;
pub mod ledger;
pub mod plan;
pub mod policy;
pub mod slack;
pub mod verify;

pub use error::{RemediateError, Result};
#[cfg(feature = "kube")]
pub use executor::{Execution, KubeExecutor, RunMode};
/// The Kubernetes client crate the executor uses (build its `Client` with this version).
#[cfg(feature = "kube")]
pub use kube;
pub use ledger::{CircuitBreaker, Ledger, LedgerEntry};
pub use plan::{
    CRITICAL_NAMESPACES, DefaultPlanner, EXECUTABLE, Impact, Planned, blast_radius, environment_multiplier,
    extended_blast_radius, is_high_risk, normalize_environment,
};
pub use policy::{DEFAULT_POLICY, PolicyInput, RegoPolicyGate, evaluate_policy};
