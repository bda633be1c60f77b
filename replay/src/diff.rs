//! A readable diff of two event lists: one line per event (its debug form), the longest common
//! subsequence kept as context, what only the expected side has marked `-`, what only the
//! actual side has marked `+`. Bounded: the table is at most [`MAX_CELLS`] cells (beyond that
//! the lists are compared position by position after their common ends), and the output at most
//! [`MAX_LINES`] lines.

use std::fmt::Write;

use matchwright_ecs::Event;

/// The largest LCS table built (about 16 MiB of u32).
pub const MAX_CELLS: usize = 4 << 20;

/// The most lines of diff shown; the rest are counted.
pub const MAX_LINES: usize = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Line {
    Same(usize, usize),
    Expected(usize),
    Actual(usize),
}

/// One event as one line.
pub fn event_line(event: &Event) -> String {
    format!("{event:?}")
}

/// The diff of `expected` against `actual`, as indented lines: `  ` same, `- ` expected only,
/// `+ ` actual only. Unchanged runs longer than 2 lines around a change are elided.
pub fn diff_events(expected: &[Event], actual: &[Event]) -> String {
    let left: Vec<String> = expected.iter().map(event_line).collect();
    let right: Vec<String> = actual.iter().map(event_line).collect();
    render(&left, &right, &align(&left, &right))
}

fn align(left: &[String], right: &[String]) -> Vec<Line> {
    let prefix = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    let suffix = left[prefix..]
        .iter()
        .rev()
        .zip(right[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (l_end, r_end) = (left.len() - suffix, right.len() - suffix);
    let mut lines: Vec<Line> = (0..prefix).map(|i| Line::Same(i, i)).collect();
    let (l_mid, r_mid) = (&left[prefix..l_end], &right[prefix..r_end]);
    if (l_mid.len() + 1).saturating_mul(r_mid.len() + 1) <= MAX_CELLS {
        lcs(l_mid, r_mid, prefix, &mut lines);
    } else {
        // Too large for the table: pair the middles by position.
        let common = l_mid.len().min(r_mid.len());
        for i in 0..common {
            if l_mid[i] == r_mid[i] {
                lines.push(Line::Same(prefix + i, prefix + i));
            } else {
                lines.push(Line::Expected(prefix + i));
                lines.push(Line::Actual(prefix + i));
            }
        }
        lines.extend((common..l_mid.len()).map(|i| Line::Expected(prefix + i)));
        lines.extend((common..r_mid.len()).map(|i| Line::Actual(prefix + i)));
    }
    lines.extend((0..suffix).map(|i| Line::Same(l_end + i, r_end + i)));
    lines
}

fn lcs(left: &[String], right: &[String], base: usize, out: &mut Vec<Line>) {
    let (n, m) = (left.len(), right.len());
    // table[i][j]: the LCS length of left[i..] and right[j..].
    let width = m + 1;
    let mut table = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[i * width + j] = if left[i] == right[j] {
                table[(i + 1) * width + j + 1] + 1
            } else {
                table[(i + 1) * width + j].max(table[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if left[i] == right[j] {
            out.push(Line::Same(base + i, base + j));
            i += 1;
            j += 1;
        } else if table[(i + 1) * width + j] >= table[i * width + j + 1] {
            out.push(Line::Expected(base + i));
            i += 1;
        } else {
            out.push(Line::Actual(base + j));
            j += 1;
        }
    }
    out.extend((i..n).map(|i| Line::Expected(base + i)));
    out.extend((j..m).map(|j| Line::Actual(base + j)));
}

fn render(left: &[String], right: &[String], lines: &[Line]) -> String {
    let changed: Vec<bool> = lines
        .iter()
        .map(|line| !matches!(line, Line::Same(..)))
        .collect();
    // Show a same line only within 2 lines of a change.
    let near = |at: usize| {
        let from = at.saturating_sub(2);
        let to = (at + 3).min(lines.len());
        changed[from..to].iter().any(|c| *c)
    };
    let mut out = String::new();
    let (mut shown, mut hidden, mut elided) = (0usize, 0usize, false);
    for (at, line) in lines.iter().enumerate() {
        let text = match *line {
            Line::Same(i, _) if near(at) => format!("    {}", left[i]),
            Line::Same(..) => {
                elided = true;
                continue;
            }
            Line::Expected(i) => format!("  - {}", left[i]),
            Line::Actual(j) => format!("  + {}", right[j]),
        };
        if shown >= MAX_LINES {
            hidden += 1;
            continue;
        }
        if elided {
            out.push_str("    ...\n");
            elided = false;
        }
        out.push_str(&text);
        out.push('\n');
        shown += 1;
    }
    if hidden > 0 {
        let _ = writeln!(out, "    ... and {hidden} more lines");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchwright_ecs::event::RemovalReason;
    use matchwright_ecs::{MatchId, PlayerId, TicketId};

    fn removed(ticket: u64) -> Event {
        Event::TicketRemoved {
            ticket: TicketId(ticket),
            reason: RemovalReason::Cancelled,
            waited_ms: 10,
        }
    }

    fn accepted(player: u64) -> Event {
        Event::MatchAccepted {
            match_id: MatchId(1),
            player: PlayerId(player),
        }
    }

    #[test]
    fn equal_lists_have_no_changes() {
        let events = [removed(1), removed(2)];
        assert!(!diff_events(&events, &events).contains("- "));
    }

    #[test]
    fn a_changed_event_shows_both_sides_with_context() {
        let expected: Vec<Event> = (1..=10).map(removed).collect();
        let mut actual = expected.clone();
        actual[5] = accepted(9);
        actual.push(accepted(3));
        let diff = diff_events(&expected, &actual);
        assert!(
            diff.contains("  - TicketRemoved { ticket: TicketId(6)"),
            "{diff}"
        );
        assert!(diff.contains("  + MatchAccepted { match_id: MatchId(1), player: PlayerId(9)"));
        assert!(diff.contains("  + MatchAccepted { match_id: MatchId(1), player: PlayerId(3)"));
        // Context around the change, the rest elided.
        assert!(
            diff.contains("    TicketRemoved { ticket: TicketId(5)"),
            "{diff}"
        );
        assert!(!diff.contains("TicketId(1)"), "{diff}");
        assert!(diff.contains("    ...\n"), "{diff}");
    }

    #[test]
    fn only_an_insertion_is_marked() {
        let expected: Vec<Event> = (1..=4).map(removed).collect();
        let mut actual = expected.clone();
        actual.insert(2, accepted(1));
        let diff = diff_events(&expected, &actual);
        assert_eq!(diff.matches("  + ").count(), 1, "{diff}");
        assert_eq!(diff.matches("  - ").count(), 0, "{diff}");
    }

    #[test]
    fn long_diffs_are_cut_and_counted() {
        let expected: Vec<Event> = (0..200).map(removed).collect();
        let actual: Vec<Event> = (0..200).map(accepted).collect();
        let diff = diff_events(&expected, &actual);
        assert_eq!(diff.lines().count(), MAX_LINES + 1, "{diff}");
        assert!(diff.ends_with("... and 340 more lines\n"), "{diff}");
    }
}
