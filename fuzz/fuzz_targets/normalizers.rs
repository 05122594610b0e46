//! Every ingest body format through the normalizers: parsing, normalization into alerts, and the
//! incident each alert would open. Any input must give `Ok` or a typed 4xx error, never a panic.
#![no_main]

use aiops_server::ingest::{Format, parse};
use aiops_server::store::Incoming;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = jiff::Timestamp::from_second(1_772_361_900).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    for format in [Format::Alertmanager, Format::Grafana, Format::Prometheus] {
        match parse(format, data, 5000, now) {
            Ok(parsed) => {
                for alert in parsed.alerts {
                    let inc = Incoming::from_alert(alert, now);
                    assert!(!inc.incident.fingerprint.is_empty());
                    assert!(inc.incident.title.chars().count() <= aiops_core::alert::MAX_TITLE_CHARS);
                }
            }
            Err(e) => assert!(e.status.is_client_error(), "{} {}", e.status, e.code),
        }
    }
});
