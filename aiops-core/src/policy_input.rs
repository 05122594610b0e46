//! The policy input document: what a [`crate::traits::PolicyGate`] decides on, built from a
//! proposed action, its blast radius, the environment and the time.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{ActionType, BlastRadius, RemediationAction};

/// The policy input document. The first eight fields keep the original's names; the rest are
/// additions a policy may use. Serialized as a flat JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyInput {
    /// The action, e.g. `rollback_deployment`.
    pub action_type: String,
    /// The environment as configured (`dev`, `development`, `prod`, ...).
    pub environment: String,
    /// The target's namespace (`""` for cluster-scoped targets such as nodes).
    pub namespace: String,
    /// The blast radius score, 0..=100.
    pub blast_radius_score: f64,
    /// Replicas (pods) the action affects.
    pub affected_replicas: u64,
    /// The UTC hour, 0..=23, from the [`crate::traits::Clock`].
    pub current_hour: u8,
    /// Saturday or Sunday (UTC).
    pub is_weekend: bool,
    /// A change freeze declared by configuration.
    #[serde(default)]
    pub freeze_active: bool,
    /// The target, `Kind/namespace/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The target's kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_kind: Option<String>,
    /// The incident id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    /// The action's parameters.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub parameters: serde_json::Map<String, Value>,
    /// The original risk class of the action: `low`, `medium` or `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    /// The blast radius breakdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_radius: Option<BlastRadius>,
}

/// The original risk classes (`original-design.md` §8.1).
pub fn risk_of(action: ActionType) -> &'static str {
    use ActionType::*;
    match action {
        RestartPod | DeletePod | RestartDeployment | ScaleReplicas => "low",
        RollbackDeployment | CordonNode | UncordonNode | UpdateHpa => "medium",
        _ => "high",
    }
}

impl PolicyInput {
    /// The input for `action` with its blast radius, in `environment`, at `now` (UTC).
    pub fn new(action: &RemediationAction, blast: &BlastRadius, environment: &str, now: Timestamp) -> Self {
        let zoned = now.to_zoned(TimeZone::UTC);
        Self {
            action_type: action.action.as_str().into(),
            environment: environment.into(),
            namespace: action.target.namespace.clone().unwrap_or_default(),
            blast_radius_score: blast.score,
            affected_replicas: blast.affected_pods as u64,
            current_hour: zoned.hour() as u8,
            is_weekend: zoned.weekday().to_monday_one_offset() >= 6,
            freeze_active: false,
            target: Some(action.target.to_string()),
            target_kind: Some(action.target.kind.clone()),
            incident_id: None,
            parameters: action.parameters.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            risk: Some(risk_of(action.action).into()),
            blast_radius: Some(blast.clone()),
        }
    }

    /// Sets the incident id.
    pub fn incident(mut self, id: &str) -> Self {
        self.incident_id = Some(id.into());
        self
    }

    /// Declares a change freeze.
    pub fn freeze(mut self, active: bool) -> Self {
        self.freeze_active = active;
        self
    }

    /// The JSON document the policy sees.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}
