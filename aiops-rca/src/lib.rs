//! `aiops-rca` turns the evidence graph into ranked, evidence-citing root-cause hypotheses:
//! it extracts evidence from objects, logs and metrics, evaluates the rules catalogue (data
//! rules loaded from YAML/JSON plus Rust [`Rule`]s), scores and ranks with the original
//! formulas, and writes the runbook.
//!
//! ```
//! use aiops_core::{Engine, AnalysisInput};
//! use aiops_rca::{RulesEngine, DefaultRunbook};
//!
//! let engine = Engine::builder()
//!     .rules(RulesEngine::builtin())
//!     .runbook(DefaultRunbook::default())
//!     .build()
//!     .unwrap();
//! # let _ = engine;
//! ```

pub mod causal;
pub mod cron;
pub mod engine;
pub mod error;
pub mod extract;
pub mod logs;
pub mod metrics;
pub mod rank;
pub mod rules;
pub mod runbook;

pub use engine::{RulesEngine, action_catalogue, catalogue_markdown};
pub use error::RcaError;
pub use extract::{Signal, Signals};
pub use rules::{DataRule, Finding, Rule, RuleFile};
pub use runbook::DefaultRunbook;
