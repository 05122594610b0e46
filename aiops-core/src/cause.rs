//! The stable diagnosis vocabulary: [`Cause`] and its coarser [`Category`].

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable snake_case name used on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            /// Parses the stable wire name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// The root cause of a hypothesis (`causes.md`): stable, part of the public API.
    Cause {
        /// A recent rollout broke the workload.
        BadDeploy => "bad_deploy",
        /// A container exceeded its memory limit.
        OomKilled => "oom_killed",
        /// Memory close to the limit or growing, not yet killed.
        MemoryPressure => "memory_pressure",
        /// The CPU limit throttles the container.
        CpuThrottling => "cpu_throttling",
        /// The image cannot be pulled.
        ImagePull => "image_pull",
        /// A referenced ConfigMap, Secret or key does not exist.
        MissingConfigRef => "missing_config_ref",
        /// Any other invalid container configuration.
        ConfigError => "config_error",
        /// The application itself crashes with no recent change.
        CrashAppError => "crash_app_error",
        /// A downstream service or database is down or unreachable.
        DependencyFailure => "dependency_failure",
        /// Name resolution fails.
        DnsFailure => "dns_failure",
        /// Other network faults.
        NetworkIssue => "network_issue",
        /// Liveness/readiness/startup probes fail.
        ProbeFailure => "probe_failure",
        /// Pending for lack of CPU, memory or pod slots.
        SchedulingInsufficientResources => "scheduling_insufficient_resources",
        /// Pending because selectors, affinity or taints match no node.
        SchedulingConstraints => "scheduling_constraints",
        /// The node is NotReady/Unknown or under pressure.
        NodeFailure => "node_failure",
        /// Volumes cannot be provisioned, attached or mounted.
        VolumeFailure => "volume_failure",
        /// A ResourceQuota or LimitRange forbids creating pods.
        QuotaExceeded => "quota_exceeded",
        /// The HPA sits at maxReplicas under load.
        HpaAtMax => "hpa_at_max",
        /// The workload's service account is forbidden an API call.
        RbacForbidden => "rbac_forbidden",
        /// A Service selects no ready pods.
        ServiceNoEndpoints => "service_no_endpoints",
        /// A Job or CronJob failed.
        JobFailure => "job_failure",
        /// No rule matched.
        Unknown => "unknown",
    }
}

string_enum! {
    /// The coarse hypothesis category kept from the original design.
    Category {
        /// Memory, CPU or other resource limits.
        ResourceExhaustion => "resource_exhaustion",
        /// A rollout broke the workload.
        BadDeployment => "bad_deployment",
        /// Invalid or missing configuration.
        ConfigurationError => "configuration_error",
        /// A dependency (or probe) fails.
        DependencyFailure => "dependency_failure",
        /// Nodes, volumes, scheduling capacity.
        InfrastructureIssue => "infrastructure_issue",
        /// DNS, network policies, TLS.
        NetworkIssue => "network_issue",
        /// Autoscaling limits.
        ScalingIssue => "scaling_issue",
        /// RBAC and security.
        SecurityIssue => "security_issue",
        /// The application or something outside the cluster.
        ExternalDependency => "external_dependency",
        /// Data problems.
        DataIssue => "data_issue",
        /// Nothing matched.
        Unknown => "unknown",
    }
}

impl Cause {
    /// The category a cause belongs to (`causes.md`).
    pub fn category(self) -> Category {
        use Category as C;
        match self {
            Cause::BadDeploy => C::BadDeployment,
            Cause::OomKilled | Cause::MemoryPressure | Cause::CpuThrottling => C::ResourceExhaustion,
            Cause::ImagePull
            | Cause::MissingConfigRef
            | Cause::ConfigError
            | Cause::SchedulingConstraints
            | Cause::QuotaExceeded
            | Cause::ServiceNoEndpoints
            | Cause::JobFailure => C::ConfigurationError,
            Cause::CrashAppError => C::ExternalDependency,
            Cause::DependencyFailure | Cause::ProbeFailure => C::DependencyFailure,
            Cause::DnsFailure | Cause::NetworkIssue => C::NetworkIssue,
            Cause::SchedulingInsufficientResources | Cause::NodeFailure | Cause::VolumeFailure => {
                C::InfrastructureIssue
            }
            Cause::HpaAtMax => C::ScalingIssue,
            Cause::RbacForbidden => C::SecurityIssue,
            Cause::Unknown => C::Unknown,
        }
    }
}

impl Category {
    /// The ranker's category weight (`original-design.md` §6.5).
    pub fn weight(self) -> f64 {
        match self {
            Category::ResourceExhaustion => 1.2,
            Category::BadDeployment => 1.15,
            Category::ConfigurationError => 1.1,
            Category::InfrastructureIssue => 1.05,
            Category::DependencyFailure => 1.0,
            Category::NetworkIssue => 0.95,
            Category::ScalingIssue => 0.9,
            Category::SecurityIssue => 0.85,
            Category::ExternalDependency => 0.8,
            Category::DataIssue => 0.75,
            Category::Unknown => 0.5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_round_trip_through_their_wire_names() {
        for c in Cause::ALL {
            assert_eq!(Cause::parse(c.as_str()), Some(*c));
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert_eq!(Cause::ALL.len(), 22);
        assert_eq!(Category::ALL.len(), 11);
    }

    #[test]
    fn every_cause_maps_to_its_documented_category() {
        assert_eq!(Cause::CrashAppError.category(), Category::ExternalDependency);
        assert_eq!(Cause::ProbeFailure.category(), Category::DependencyFailure);
        assert_eq!(Cause::RbacForbidden.category(), Category::SecurityIssue);
        assert!(Cause::parse("none").is_none());
    }
}
