//! The Prometheus recorder of the process, and its text rendering.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::names;

/// The process's Prometheus recorder: every metric recorded through the facade, in
/// the Prometheus text format.
#[derive(Debug, Clone)]
pub struct Exporter {
    handle: Option<PrometheusHandle>,
}

static GLOBAL: OnceLock<Exporter> = OnceLock::new();

impl Exporter {
    /// The recorder of this process, installed on first use (histograms with
    /// [`names::SECONDS_BUCKETS`], every metric described). When another recorder was
    /// installed first, this one renders nothing and says so in the log of the first
    /// call's caller.
    pub fn global() -> &'static Exporter {
        GLOBAL.get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), names::SECONDS_BUCKETS)
                .and_then(|b| b.set_buckets(names::SECONDS_BUCKETS));
            let handle = builder.ok().and_then(|b| b.install_recorder().ok());
            if handle.is_some() {
                crate::describe();
            }
            Exporter { handle }
        })
    }

    /// Whether this process records into it (false when another recorder was there
    /// first).
    pub fn is_installed(&self) -> bool {
        self.handle.is_some()
    }

    /// Every metric now, in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        self.handle
            .as_ref()
            .map(PrometheusHandle::render)
            .unwrap_or_default()
    }

    /// The `Content-Type` of [`Exporter::render`]'s text.
    pub const CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::commands::{self, Outcome};

    #[test]
    fn renders_what_the_helpers_record() {
        let exporter = Exporter::global();
        assert!(exporter.is_installed());
        commands::handled(
            "propose",
            Outcome::Rejected,
            Some("conflict"),
            Duration::from_millis(3),
        );
        crate::webhooks::delivery(crate::webhooks::Delivery::Failed, Duration::from_millis(40));
        crate::nats::connection(crate::nats::ConnectionEvent::Connected);
        let text = exporter.render();
        assert!(
            text.contains(r#"roundtable_commands_total{command="propose",outcome="rejected"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"roundtable_command_rejections_total{command="propose",kind="conflict"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"roundtable_command_duration_seconds_bucket{command="propose",le="0.005"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"roundtable_webhook_deliveries_total{outcome="failed"} 1"#),
            "{text}"
        );
        assert!(text.contains("roundtable_nats_connected 1"), "{text}");
        assert!(
            text.contains("# HELP roundtable_commands_total Commands handled"),
            "{text}"
        );
        assert!(
            std::ptr::eq(exporter, Exporter::global()),
            "one per process"
        );
    }
}
