//! Label and field selectors, parsed the way the API server parses them (shared with the
//! collectors' watch cache, which applies them to cached objects: [`aiops_core::selector`]).

pub use aiops_core::selector::{FieldReq, FieldSelector, LabelReq, LabelSelector};
