# The default remediation policy of aiops.
#
# It keeps the semantics of the original design's `remediation.rego` (allowlists per
# environment, high-risk actions, protected namespaces, the 22:00-06:00 UTC freeze window and
# weekends in prod, blast-radius thresholds 50 / 75 / replicas < 5, approval rules) with its
# bugs fixed:
#   * the environment vocabulary: `development`/`production` (any case) map to `dev`/`prod`,
#     `stage` to `staging`, anything unknown to `prod` (the strictest);
#   * `requires_approval` has a default (false), so it is never undefined;
#   * every deny has a reason (the original said nothing for "not in the allowlist");
#   * dev auto-approval is a policy setting (`data.aiops.auto_approve_dev`, default true),
#     so "auto-approved in dev" can actually happen;
#   * actions a human may run in prod/staging but that are never automatic there
#     (`rollback_deployment`, `cordon_node`) are `requires_approval`, not a silent deny.
#
# Outputs: `decision` ("allow" | "requires_approval" | "deny") and `reasons` (sorted strings),
# plus the original's `allow`, `requires_approval` and `deny`.
#
# Settings (all optional) under `data.aiops`: auto_approve_dev, max_blast_radius (50),
# max_blast_radius_staging (75), max_affected_replicas (5), approval_replicas (3),
# staging_approval_score (30), freeze_start_hour (22), freeze_end_hour (6),
# protected_namespaces, extra_high_risk_actions.
package remediation

import rego.v1

# ---- settings -------------------------------------------------------------------------

default max_blast := 50

max_blast := data.aiops.max_blast_radius

default max_blast_staging := 75

max_blast_staging := data.aiops.max_blast_radius_staging

default max_replicas := 5

max_replicas := data.aiops.max_affected_replicas

default approval_replicas := 3

approval_replicas := data.aiops.approval_replicas

default staging_approval_score := 30

staging_approval_score := data.aiops.staging_approval_score

default freeze_start := 22

freeze_start := data.aiops.freeze_start_hour

default freeze_end := 6

freeze_end := data.aiops.freeze_end_hour

default auto_approve_dev := true

auto_approve_dev := data.aiops.auto_approve_dev

# ---- vocabulary -----------------------------------------------------------------------

env_aliases := {
	"dev": "dev", "development": "dev", "local": "dev",
	"staging": "staging", "stage": "staging",
	"uat": "uat",
	"prod": "prod", "production": "prod",
}

env := object.get(env_aliases, lower(input.environment), "prod")

action := input.action_type

allowed_actions_dev := {"restart_pod", "delete_pod", "restart_deployment", "rollback_deployment", "scale_replicas", "cordon_node"}

allowed_actions_staging := {"restart_pod", "delete_pod", "restart_deployment", "scale_replicas", "rollback_deployment"}

allowed_actions_prod := {"restart_pod", "delete_pod", "restart_deployment", "scale_replicas"}

# Never automatic in staging/prod, but a human may approve them there.
approval_only_actions := {"rollback_deployment", "cordon_node"}

base_high_risk_actions := {"drain_node", "delete_pvc", "update_resource_limits", "delete_namespace", "update_configmap", "uncordon_node"}

extra_high_risk_actions contains a if some a in data.aiops.extra_high_risk_actions

high_risk_actions := base_high_risk_actions | extra_high_risk_actions

default protected_namespaces := {"kube-system", "kube-public", "kube-node-lease", "istio-system", "cert-manager", "monitoring"}

protected_namespaces := {n | some n in data.aiops.protected_namespaces} if data.aiops.protected_namespaces

# ---- gates ----------------------------------------------------------------------------

in_freeze_window if input.current_hour >= freeze_start

in_freeze_window if input.current_hour < freeze_end

in_freeze_window if {
	env == "prod"
	input.is_weekend == true
}

in_freeze_window if input.freeze_active == true

env_allows_action if {
	env == "dev"
	action in allowed_actions_dev
}

env_allows_action if {
	env == "staging"
	action in allowed_actions_staging
	not in_freeze_window
}

env_allows_action if {
	env in {"prod", "uat"}
	action in allowed_actions_prod
	not in_freeze_window
}

# Allowed only with a human's approval (the original denied these outright in prod).
env_allows_with_approval if {
	env in {"staging", "prod", "uat"}
	action in approval_only_actions
	not action in high_risk_actions
	not env_allows_action
	not in_freeze_window
}

blast_radius_ok if {
	input.blast_radius_score < max_blast
	input.affected_replicas < max_replicas
}

blast_radius_ok if env == "dev"

blast_radius_ok if {
	env == "staging"
	input.blast_radius_score < max_blast_staging
}

namespace_allowed if not input.namespace in protected_namespaces

namespace_allowed if env == "dev"

permitted if env_allows_action

permitted if env_allows_with_approval

default allow := false

allow if {
	permitted
	blast_radius_ok
	namespace_allowed
	not action in high_risk_actions
}

# ---- approval -------------------------------------------------------------------------

approval_reasons contains "production actions require approval" if env in {"prod", "uat"}

approval_reasons contains sprintf("staging action with blast radius %v >= %v requires approval", [input.blast_radius_score, staging_approval_score]) if {
	env == "staging"
	input.blast_radius_score >= staging_approval_score
}

approval_reasons contains sprintf("%s always requires approval", [action]) if action in {"rollback_deployment", "cordon_node"}

approval_reasons contains sprintf("%v affected replicas >= %v requires approval", [input.affected_replicas, approval_replicas]) if {
	input.affected_replicas >= approval_replicas
}

dev_auto_approved if {
	env == "dev"
	auto_approve_dev == true
}

default requires_approval := false

requires_approval if {
	count(approval_reasons) > 0
	not dev_auto_approved
}

requires_approval if env_allows_with_approval

# ---- deny messages --------------------------------------------------------------------

deny contains sprintf("Action %s is high risk and not allowed", [action]) if action in high_risk_actions

deny contains "Action not allowed during freeze window" if {
	not env_allows_action
	not env_allows_with_approval
	in_freeze_window
	not action in high_risk_actions
}

deny contains sprintf("Namespace %s is protected", [input.namespace]) if not namespace_allowed

deny contains sprintf("Blast radius score %v exceeds threshold", [input.blast_radius_score]) if not blast_radius_ok

deny contains sprintf("Action %s is not allowed in %s", [action, env]) if {
	not permitted
	not in_freeze_window
	not action in high_risk_actions
}

# ---- the decision ---------------------------------------------------------------------

decision := "deny" if not allow

decision := "requires_approval" if {
	allow
	requires_approval
}

decision := "allow" if {
	allow
	not requires_approval
}

allow_reasons contains sprintf("%s allowed in %s (blast radius %v, %v replicas)", [action, env, input.blast_radius_score, input.affected_replicas]) if allow

allow_reasons contains sprintf("auto-approved in dev (%s)", [r]) if {
	allow
	dev_auto_approved
	some r in approval_reasons
}

reasons := sort(deny) if not allow

reasons := sort(allow_reasons | approval_reasons) if {
	allow
	requires_approval
}

reasons := sort(allow_reasons) if {
	allow
	not requires_approval
}

result := {"decision": decision, "reasons": reasons, "environment": env}
