//! Content negotiation: plain JSON, `Table` (what `kubectl get` asks for) and
//! `PartialObjectMetadata(List)` (metadata-only reads), chosen from the `Accept` header in the
//! client's order of preference.

use super::status::ApiError;

/// The shape of a read response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The objects as they are.
    Json,
    /// A `meta.k8s.io` `Table` of the given version (`v1` or `v1beta1`).
    Table(&'static str),
    /// `PartialObjectMetadata` / `PartialObjectMetadataList` of the given `meta.k8s.io` version.
    Partial(&'static str),
}

/// Picks the first media type of `accept` the simulator serves; protobuf and aggregated
/// discovery are skipped so clients fall back to JSON.
pub fn negotiate(accept: Option<&str>) -> Result<Format, ApiError> {
    let accept = accept.unwrap_or("").trim();
    if accept.is_empty() {
        return Ok(Format::Json);
    }
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let mime = parts.next().unwrap_or("");
        if !matches!(mime, "application/json" | "*/*" | "application/*") {
            continue;
        }
        let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
        let get = |k: &str| params.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v);
        let version = match get("v") {
            Some("v1") | None => "v1",
            Some("v1beta1") => "v1beta1",
            Some(_) => continue,
        };
        match (get("as"), get("g")) {
            (None, _) => return Ok(Format::Json),
            (Some("Table"), Some("meta.k8s.io")) => return Ok(Format::Table(version)),
            (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io")) => {
                return Ok(Format::Partial(version));
            }
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(accept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_accept_headers() {
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(table)).unwrap(), Format::Table("v1"));
        let disc = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
        assert_eq!(negotiate(Some(disc)).unwrap(), Format::Json);
        let pom = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
        assert_eq!(negotiate(Some(pom)).unwrap(), Format::Partial("v1"));
        assert_eq!(negotiate(Some("application/vnd.kubernetes.protobuf, application/json")).unwrap(), Format::Json);
        assert!(negotiate(Some("application/vnd.kubernetes.protobuf")).is_err());
        assert_eq!(negotiate(None).unwrap(), Format::Json);
    }
}
