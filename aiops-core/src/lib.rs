//! `aiops-core` holds the plain domain types and traits of aiops (alerts, incidents, evidence,
//! the evidence graph, hypotheses, runbooks, policy decisions, reports), the incident-bundle
//! parser, and the [`Engine`] that composes pluggable components into the analysis pipeline;
//! it does no network I/O itself.
//!
//! ```
//! use aiops_core::{Engine, AnalysisInput, traits::{RuleEngine, AnalysisContext, Diagnosis, BoxError}};
//!
//! struct NoRules;
//! impl RuleEngine for NoRules {
//!     fn diagnose(&self, _ctx: &AnalysisContext<'_>) -> Result<Diagnosis, BoxError> {
//!         Ok(Diagnosis::default())
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let engine = Engine::builder().rules(NoRules).build()?;
//! let report = engine.analyze(AnalysisInput::default()).await?;
//! assert!(!report.partial);
//! # Ok::<(), aiops_core::CoreError>(())
//! # }).unwrap();
//! ```

pub mod alert;
pub mod bundle;
pub mod cause;
pub mod change;
pub mod config_file;
pub mod engine;
pub mod enrichment;
pub mod error;
pub mod graph;
pub mod model;
pub mod object;
pub mod observation;
pub mod policy_input;
pub mod selector;
pub mod traits;

pub use bundle::{IncidentBundle, parse_bundle};
pub use cause::{Category, Cause};
pub use engine::{AnalysisInput, Engine, EngineBuilder};
pub use error::{CoreError, Result};
pub use model::*;
pub use observation::Observations;
