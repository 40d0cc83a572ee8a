//! Sequence diagrams of observed hops, in the style of the seed document:
//! one lifeline per party, an arrow per request and per answer, and the
//! hop that broke marked. As text for terminals and JUnit, as inline SVG
//! for the HTML report.

use std::fmt::Write as _;

use crate::run::hop::Hop;

/// The parties, left to right.
const PARTIES: [&str; 3] = ["harness", "chat-api", "auth-api"];
/// Characters between two lifelines in the text diagram.
const GAP: usize = 34;

fn column(party: &str) -> usize {
    PARTIES.iter().position(|p| *p == party).unwrap_or(0)
}

/// One arrow of the diagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrow {
    /// Column it starts at.
    pub from: usize,
    /// Column it points to.
    pub to: usize,
    /// Its label: the request line, or the answer's status and error.
    pub label: String,
    /// Whether this is where the chain broke.
    pub broke: bool,
    /// Whether this answer is an error.
    pub error: bool,
}

/// Shortens ids in a path (`0193a1c0-…`), so that a line fits.
fn short_path(path: &str) -> String {
    path.split('/')
        .map(|part| {
            if uuid::Uuid::parse_str(part).is_ok() && part.len() > 8 {
                format!("{}…", &part[..8])
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn answer_label(hop: &Hop) -> String {
    let mut label = hop.status.to_string();
    if let Some(error) = &hop.error {
        let _ = write!(label, " {error}");
    }
    label
}

/// The arrows of a step's hops. In a failed step, the first failing call
/// made on the harness's behalf is where the chain broke; without one, the
/// harness's own request is.
pub fn arrows(hops: &[Hop], failed: bool) -> Vec<Arrow> {
    let mut arrows = Vec::new();
    let mut i = 0;
    while i < hops.len() {
        let outer = &hops[i];
        let nested: Vec<&Hop> = hops[i + 1..]
            .iter()
            .take_while(|h| h.from != "harness")
            .collect();
        let culprit = if failed {
            nested.iter().position(|h| h.failed())
        } else {
            None
        };
        let request = |hop: &Hop| {
            let mut label = format!("{} {}", hop.method, short_path(&hop.path));
            if let Some(credential) = &hop.credential {
                let _ = write!(label, " ({credential})");
            }
            label
        };
        arrows.push(Arrow {
            from: column(&outer.from),
            to: column(&outer.to),
            label: request(outer),
            broke: false,
            error: false,
        });
        for (n, hop) in nested.iter().enumerate() {
            arrows.push(Arrow {
                from: column(&hop.from),
                to: column(&hop.to),
                label: request(hop),
                broke: false,
                error: false,
            });
            arrows.push(Arrow {
                from: column(&hop.to),
                to: column(&hop.from),
                label: answer_label(hop),
                broke: culprit == Some(n),
                error: hop.failed(),
            });
        }
        arrows.push(Arrow {
            from: column(&outer.to),
            to: column(&outer.from),
            label: answer_label(outer),
            broke: failed && culprit.is_none(),
            error: failed || outer.failed(),
        });
        i += 1 + nested.len();
    }
    arrows
}

/// Where a failed step's chain broke, in a line: the first failing call
/// made on the harness's behalf, else the harness's own last request (its
/// answer was not the one due). `None` without hops.
pub fn broken_hop(hops: &[Hop]) -> Option<String> {
    let nested_failure = hops.iter().find(|h| h.from != "harness" && h.failed());
    let hop = nested_failure.or_else(|| hops.iter().rev().find(|h| h.from == "harness"))?;
    let mut line = format!(
        "{} → {}: {} {}",
        hop.from,
        hop.to,
        hop.method,
        short_path(&hop.path)
    );
    if let Some(credential) = &hop.credential {
        let _ = write!(line, " ({credential})");
    }
    let _ = write!(line, " answered {}", answer_label(hop));
    Some(line)
}

fn lifelines(width: usize) -> Vec<char> {
    let mut line = vec![' '; width];
    for c in 0..PARTIES.len() {
        line[2 + c * GAP] = '│';
    }
    line
}

/// The diagram as text.
pub fn text(hops: &[Hop], failed: bool) -> String {
    let width = 2 + (PARTIES.len() - 1) * GAP + 1;
    let mut out = String::new();
    let mut header = String::new();
    for (c, party) in PARTIES.iter().enumerate() {
        let at = (2 + c * GAP).saturating_sub(party.len() / 2);
        while header.chars().count() < at {
            header.push(' ');
        }
        header.push_str(party);
    }
    let _ = writeln!(out, "{}", header.trim_end());
    for arrow in arrows(hops, failed) {
        // The label, left of the arrow's head or tail, whichever is left.
        let left = arrow.from.min(arrow.to);
        let mut label_line = lifelines(width);
        let mut label = arrow.label.clone();
        if arrow.broke {
            label.push_str("   ✗ broke here");
        } else if arrow.error && arrow.to < arrow.from {
            label.push_str("   ✗");
        }
        let start = 2 + left * GAP + 2;
        let mut line: String = label_line.drain(..start).collect();
        line.push_str(&label);
        let rest: String = label_line.into_iter().skip(label.chars().count()).collect();
        line.push_str(&rest);
        let _ = writeln!(out, "{}", line.trim_end());

        let mut arrow_line = lifelines(width);
        let (a, b) = (2 + arrow.from * GAP, 2 + arrow.to * GAP);
        let (lo, hi) = (a.min(b), a.max(b));
        for cell in arrow_line.iter_mut().take(hi).skip(lo + 1) {
            *cell = if *cell == '│' { '┼' } else { '─' };
        }
        if a < b {
            arrow_line[lo] = '├';
            arrow_line[hi - 1] = '>';
        } else {
            arrow_line[hi] = '┤';
            arrow_line[lo + 1] = '<';
        }
        let _ = writeln!(out, "{}", arrow_line.iter().collect::<String>().trim_end());
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The diagram as an inline SVG element (no external resources), for
/// several steps (a scenario): each step's hops, and whether it failed.
pub fn svg_steps<'a>(steps: impl IntoIterator<Item = (&'a [Hop], bool)>) -> String {
    let arrows: Vec<Arrow> = steps
        .into_iter()
        .flat_map(|(hops, failed)| arrows(hops, failed))
        .collect();
    svg_of(&arrows)
}

fn svg_of(arrows: &[Arrow]) -> String {
    const COL: usize = 300;
    const ROW: usize = 34;
    const TOP: usize = 40;
    let width = COL * PARTIES.len();
    let height = TOP + ROW * arrows.len() + 20;
    let x = |c: usize| COL / 2 + c * COL;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="sequence" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">"#
    );
    for (c, party) in PARTIES.iter().enumerate() {
        let _ = write!(
            out,
            r#"<text x="{}" y="20" text-anchor="middle" class="party">{party}</text><line x1="{0}" y1="28" x2="{0}" y2="{}" class="lifeline"/>"#,
            x(c),
            height - 10
        );
    }
    for (n, arrow) in arrows.iter().enumerate() {
        let y = TOP + ROW * n + 20;
        let (x1, x2) = (x(arrow.from), x(arrow.to));
        let class = if arrow.broke {
            "arrow broke"
        } else if arrow.error {
            "arrow error"
        } else {
            "arrow"
        };
        let head = if x2 > x1 { x2 - 8 } else { x2 + 8 };
        let label_x = x1.min(x2) + 8;
        let mark = if arrow.broke { " ✗ broke here" } else { "" };
        let _ = write!(
            out,
            r#"<g class="{class}" data-broke="{}"><line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}"/><polygon points="{x2},{y} {head},{} {head},{}"/><text x="{label_x}" y="{}">{}{mark}</text></g>"#,
            arrow.broke,
            y - 4,
            y + 4,
            y - 6,
            escape(&arrow.label)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(
        from: &str,
        to: &str,
        method: &str,
        path: &str,
        status: u16,
        error: Option<&str>,
    ) -> Hop {
        Hop {
            from: from.to_owned(),
            to: to.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            error: error.map(str::to_owned),
            credential: None,
            scope: None,
            duration_ms: 1,
            started_ms: 0,
            trace: None,
        }
    }

    fn seed_chain() -> Vec<Hop> {
        let group = "0193a1c0-0000-7000-8000-000000000001";
        vec![
            hop(
                "harness",
                "chat-api",
                "POST",
                &format!("/api/chat/groups/{group}/messages"),
                502,
                Some("upstream_unavailable"),
            ),
            hop("chat-api", "auth-api", "POST", "/oauth/token", 200, None),
            hop(
                "chat-api",
                "auth-api",
                "GET",
                &format!("/api/auth/groups/{group}"),
                200,
                None,
            ),
            hop(
                "chat-api",
                "auth-api",
                "GET",
                &format!("/api/auth/groups/{group}/members"),
                401,
                Some("invalid_token"),
            ),
        ]
    }

    #[test]
    fn the_members_hop_is_where_the_seeds_chain_broke() {
        let arrows = arrows(&seed_chain(), true);
        let broke: Vec<&Arrow> = arrows.iter().filter(|a| a.broke).collect();
        assert_eq!(broke.len(), 1);
        assert_eq!(broke[0].label, "401 invalid_token");
        assert_eq!((broke[0].from, broke[0].to), (2, 1));
        let last = arrows.last().unwrap();
        assert_eq!(last.label, "502 upstream_unavailable");
        assert!(last.error && !last.broke);
    }

    #[test]
    fn the_text_diagram_draws_each_request_and_answer() {
        let text = text(&seed_chain(), true);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains("harness") && lines[0].contains("auth-api"),
            "{text}"
        );
        assert!(
            text.contains("GET /api/auth/groups/0193a1c0…/members"),
            "{text}"
        );
        assert!(text.contains("401 invalid_token   ✗ broke here"), "{text}");
        assert!(text.contains("502 upstream_unavailable   ✗"), "{text}");
        assert_eq!(text.matches('>').count(), 4, "{text}");
        assert_eq!(text.matches('<').count(), 4, "{text}");
    }

    #[test]
    fn a_passed_step_marks_nothing() {
        let mut hops = seed_chain();
        hops[0].status = 201;
        hops[0].error = None;
        hops[3].status = 200;
        hops[3].error = None;
        assert!(arrows(&hops, false).iter().all(|a| !a.broke && !a.error));
        assert!(!svg_steps([(hops.as_slice(), false)]).contains("data-broke=\"true\""));
    }

    #[test]
    fn the_svg_marks_the_broken_hop_and_escapes_labels() {
        let mut hops = seed_chain();
        hops[1].path = "/<script>".to_owned();
        let svg = svg_steps([(hops.as_slice(), true)]);
        assert_eq!(svg.matches("data-broke=\"true\"").count(), 1);
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
    }
}
