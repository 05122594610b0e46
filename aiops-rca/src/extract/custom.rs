//! Signals from custom resources kept as generic objects: Gateway API (GatewayClass, Gateway,
//! HTTPRoute), OLM (CatalogSource, ClusterCatalog, ClusterServiceVersion, InstallPlan,
//! OperatorGroup, Subscription) and KEDA ScaledObjects.

use super::{Ctx, Signals};

pub(crate) fn custom_signals(_ctx: &Ctx<'_>, _out: &mut Signals) {}
