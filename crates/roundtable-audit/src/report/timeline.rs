//! The timeline chart: inline SVG, drawn here (no script, no library).
//!
//! x is business time (`occurred_at`), compressed: a quiet stretch longer than
//! [`GAP_CAP_MINUTES`] (a night, a week between sessions) is drawn as that much and
//! marked with a dashed break and the date, so that sessions stay readable. One lane
//! per partner, grouped and tinted by sector, under a lane for the secretariat.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use roundtable_domain::AgreementView;

use super::plain;
use super::story::{Mark, MarkKind, SECTORS, sector_colour, sector_label};

/// Quiet stretches longer than this are drawn this long.
const GAP_CAP_MINUTES: i64 = 40;
const LABEL_W: f64 = 330.0;
/// Longest lane label, in characters (the full name is in the lane's tooltip).
const LABEL_CHARS: usize = 50;
const PLOT_W: f64 = 900.0;
const LANE_H: f64 = 22.0;
const TOP: f64 = 40.0;
const RIGHT: f64 = 20.0;

/// The compressed time scale.
struct Scale {
    /// Sorted distinct instants and their compressed position (minutes).
    points: Vec<(DateTime<Utc>, f64)>,
    span: f64,
    /// Where a quiet stretch was compressed: position and the instant after it.
    breaks: Vec<(f64, DateTime<Utc>)>,
}

impl Scale {
    fn new(marks: &[Mark]) -> Scale {
        let mut times: Vec<DateTime<Utc>> = marks.iter().map(|m| m.at).collect();
        times.sort_unstable();
        times.dedup();
        let mut points = Vec::with_capacity(times.len());
        let mut breaks = Vec::new();
        let mut pos = 0.0;
        for (i, t) in times.iter().enumerate() {
            if i > 0 {
                let gap = (*t - times[i - 1]).num_seconds() as f64 / 60.0;
                let cap = GAP_CAP_MINUTES as f64;
                if gap > cap {
                    pos += cap;
                    breaks.push((pos - cap / 2.0, *t));
                } else {
                    pos += gap;
                }
            }
            points.push((*t, pos));
        }
        Scale {
            points,
            span: pos.max(1.0),
            breaks,
        }
    }

    fn x(&self, t: DateTime<Utc>) -> f64 {
        let i = self.points.partition_point(|(p, _)| *p < t);
        let pos = self.points.get(i).map_or(self.span, |(_, x)| *x);
        LABEL_W + 10.0 + pos / self.span * (PLOT_W - 20.0)
    }

    fn xb(&self, pos: f64) -> f64 {
        LABEL_W + 10.0 + pos / self.span * (PLOT_W - 20.0)
    }
}

fn shorten(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        label.to_owned()
    } else {
        let head: String = label.chars().take(LABEL_CHARS - 1).collect();
        format!("{head}…")
    }
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

/// The shape of a mark at `(x, y)`, in `colour`.
fn shape(kind: MarkKind, strong: bool, x: f64, y: f64, colour: &str) -> Markup {
    let (xs, ys) = (f(x), f(y));
    match kind {
        MarkKind::Proposal => html! {
            circle cx=(xs) cy=(ys) r="5" fill=(colour) stroke="#222" stroke-width="0.8" {}
        },
        MarkKind::ProposalWithdrawn => html! {
            path d=(format!("M{} {}L{} {}M{} {}L{} {}", f(x-4.0), f(y-4.0), f(x+4.0), f(y+4.0), f(x-4.0), f(y+4.0), f(x+4.0), f(y-4.0))) stroke=(colour) stroke-width="2" {}
        },
        MarkKind::Endorsement => html! {
            polygon points=(format!("{},{} {},{} {},{}", f(x), f(y-5.0), f(x-4.5), f(y+4.0), f(x+4.5), f(y+4.0))) fill=(colour) {}
        },
        MarkKind::Retraction => html! {
            polygon points=(format!("{},{} {},{} {},{}", f(x), f(y+5.0), f(x-4.5), f(y-4.0), f(x+4.5), f(y-4.0))) fill="white" stroke=(colour) stroke-width="1.2" {}
        },
        MarkKind::ObjectionOpened => html! {
            rect x=(f(x-4.5)) y=(f(y-4.5)) width="9" height="9" fill=(if strong { "#c62828" } else { "white" }) stroke="#c62828" stroke-width="1.6" {}
        },
        MarkKind::ObjectionClosed => html! {
            rect x=(f(x-3.5)) y=(f(y-3.5)) width="7" height="7" fill="white" stroke="#888" stroke-width="1.2" stroke-dasharray="2 1" {}
        },
        MarkKind::Adoption => html! {
            polygon points=(format!("{},{} {},{} {},{} {},{}", f(x), f(y-7.0), f(x+7.0), f(y), f(x), f(y+7.0), f(x-7.0), f(y))) fill="#f2b705" stroke="#7a5c00" stroke-width="1" {}
        },
        MarkKind::Commitment => html! {
            polygon points=(format!("{},{} {},{} {},{} {},{}", f(x), f(y-5.5), f(x+5.5), f(y), f(x), f(y+5.5), f(x-5.5), f(y))) fill=(colour) stroke="#222" stroke-width="0.6" {}
        },
        MarkKind::CommitmentWithdrawn => html! {
            polygon points=(format!("{},{} {},{} {},{} {},{}", f(x), f(y-5.5), f(x+5.5), f(y), f(x), f(y+5.5), f(x-5.5), f(y))) fill="white" stroke=(colour) stroke-width="1.4" {}
        },
        MarkKind::Signature => html! {
            path d=(format!("M{} {}L{} {}L{} {}", f(x-5.0), f(y), f(x-1.5), f(y+4.5), f(x+5.5), f(y-5.0))) fill="none" stroke=(colour) stroke-width="2.6" opacity=(if strong { "1" } else { "0.35" }) {}
        },
        MarkKind::Admitted | MarkKind::KeyRegistered => html! {
            line x1=(xs) y1=(f(y-6.0)) x2=(xs) y2=(f(y+6.0)) stroke=(colour) stroke-width=(if kind == MarkKind::KeyRegistered { "3" } else { "1.5" }) {}
        },
        MarkKind::Opened | MarkKind::Concluded => html! {
            rect x=(f(x-3.0)) y=(f(y-7.0)) width="6" height="14" fill="#333" {}
        },
        MarkKind::RoundOpened => html! {
            rect x=(f(x-3.0)) y=(f(y-7.0)) width="6" height="14" fill="white" stroke="#333" stroke-width="1.5" {}
        },
        MarkKind::Terminated => html! {
            rect x=(f(x-3.0)) y=(f(y-7.0)) width="6" height="14" fill="#c62828" {}
        },
        MarkKind::AssetDeclared => html! {
            rect x=(f(x-4.0)) y=(f(y-4.0)) width="8" height="8" rx="2" fill=(colour) stroke="#222" stroke-width="0.6" {}
        },
        MarkKind::Progress => html! {
            circle cx=(xs) cy=(ys) r="3.5" fill="white" stroke=(colour) stroke-width="2" {}
        },
        MarkKind::Fulfilled => html! {
            circle cx=(xs) cy=(ys) r="5.5" fill="none" stroke=(colour) stroke-width="2.5" {}
        },
        MarkKind::ShortfallReported => html! {
            polygon points=(format!("{},{} {},{} {},{}", f(x), f(y-6.5), f(x-6.0), f(y+5.0), f(x+6.0), f(y+5.0))) fill=(if strong { "#c62828" } else { "white" }) stroke="#c62828" stroke-width="1.6" {}
        },
        MarkKind::ShortfallResolved => html! {
            polygon points=(format!("{},{} {},{} {},{}", f(x), f(y-5.5), f(x-5.0), f(y+4.0), f(x+5.0), f(y+4.0))) fill="white" stroke="#888" stroke-width="1.2" stroke-dasharray="2 1" {}
        },
        MarkKind::PartnerWithdrawn => html! {
            line x1=(f(x-6.0)) y1=(ys) x2=(f(x+6.0)) y2=(ys) stroke=(colour) stroke-width="3" {}
        },
    }
}

/// The timeline of `marks` for the partners of `view`.
pub(crate) fn timeline_svg(marks: &[Mark], view: &AgreementView) -> Markup {
    // Lanes: the secretariat, then partners grouped by sector, in admission order.
    let mut lanes: Vec<(Option<&roundtable_domain::view::Partner>, usize)> = vec![(None, 0)];
    for sector in SECTORS {
        for p in view.partners.values().filter(|p| p.sector == sector) {
            let n = lanes.len();
            lanes.push((Some(p), n));
        }
    }
    let lane_of = |id: Option<&roundtable_domain::PartnerId>| -> usize {
        match id {
            None => 0,
            Some(id) => lanes
                .iter()
                .position(|(p, _)| p.is_some_and(|p| &p.partner_id == id))
                .unwrap_or(0),
        }
    };
    let scale = Scale::new(marks);
    let height = TOP + LANE_H * lanes.len() as f64 + 30.0;
    let width = LABEL_W + PLOT_W + RIGHT;
    let y_of = |lane: usize| TOP + LANE_H * lane as f64 + LANE_H / 2.0;
    let start = scale.points.first().map(|(t, _)| *t);
    html! {
        svg #timeline xmlns="http://www.w3.org/2000/svg" role="img"
            width=(f(width)) height=(f(height)) viewBox=(format!("0 0 {} {}", f(width), f(height)))
            aria-label="Timeline of the negotiation: one lane per partner, coloured by sector" {
            title { "Timeline of the negotiation" }
            // Lanes.
            @for (partner, i) in &lanes {
                @let y = TOP + LANE_H * *i as f64;
                @let (colour, tint) = partner.map_or(("#333333", "#f4f4f4"), |p| sector_colour(p.sector));
                g.lane data-partner=(partner.map_or("secretariat", |p| p.partner_id.as_str())) {
                    rect x="0" y=(f(y)) width=(f(width)) height=(f(LANE_H)) fill=(tint) {}
                    rect x="0" y=(f(y)) width="6" height=(f(LANE_H)) fill=(colour) {}
                    @let label = partner.map_or_else(|| "Secretariat".to_owned(), |p| format!("{} ({})", plain(&p.name), p.partner_id));
                    text.lane-label x="12" y=(f(y + LANE_H / 2.0 + 4.0)) fill=(colour) {
                        title { (label) }
                        (shorten(&label))
                    }
                }
            }
            // Day starts and compressed stretches.
            @if let Some(t) = start {
                text.tick x=(f(scale.x(t))) y="16" { (t.format("%Y-%m-%d %H:%M").to_string()) }
            }
            @for (pos, after) in &scale.breaks {
                @let x = scale.xb(*pos);
                line x1=(f(x)) y1="22" x2=(f(x)) y2=(f(height - 26.0)) stroke="#999" stroke-width="1" stroke-dasharray="4 3" {}
                text.tick x=(f(x + 3.0)) y=(f(if (x as i64 / 10) % 2 == 0 { 16.0 } else { 30.0 })) { (after.format("%Y-%m-%d %H:%M").to_string()) }
            }
            // Adoptions, as faint lines across every lane.
            @for m in marks.iter().filter(|m| m.kind == MarkKind::Adoption) {
                @let x = scale.x(m.at);
                line x1=(f(x)) y1=(f(TOP)) x2=(f(x)) y2=(f(TOP + LANE_H * lanes.len() as f64)) stroke="#f2b705" stroke-width="1" opacity="0.5" {}
            }
            // Marks.
            @for m in marks {
                @let lane = lane_of(m.lane.as_ref());
                @let colour = lanes[lane].0.map_or("#333333", |p| sector_colour(p.sector).0);
                g.mark data-kind=(m.kind.as_str()) data-partner=(m.lane.as_ref().map_or("secretariat", |p| p.as_str())) data-version=(m.version) {
                    title { (plain(&m.title)) }
                    (shape(m.kind, m.strong, scale.x(m.at), y_of(lane), colour))
                }
            }
            text.tick x=(f(LABEL_W)) y=(f(height - 8.0)) {
                "x: business time (occurred_at); a dashed line marks a quiet stretch of more than "
                (GAP_CAP_MINUTES) " minutes, drawn shorter"
            }
        }
    }
}

/// The legend: one entry per kind of mark, and the sector colours.
pub(crate) fn legend() -> Markup {
    html! {
        div.legend {
            @for kind in MarkKind::ALL {
                span.legend-item {
                    svg width="16" height="16" viewBox="0 0 16 16" {
                        (shape(kind, true, 8.0, 8.0, "#555555"))
                    }
                    " " (kind.label())
                }
            }
        }
        div.legend {
            @for s in SECTORS {
                span.legend-item {
                    span.swatch style=(format!("background:{}", sector_colour(s).0)) {}
                    " " (sector_label(s))
                }
            }
        }
    }
}
