//! Packing a report's blocks into comment parts without cutting anything silently.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::context;

use super::{
    ComparedWith, EnvironmentStatus, Extras, Limits, Lock, Preview, ReportError, ReportParts,
    Templates, ENV_SECTION, NO_CHANGES, OBJECT_DETAILS, OVERFLOW_SUMMARY,
};
use crate::diff::{Change, EnvironmentDiff, ObjectDiff};

/// Part numbers are rendered with at most this many digits when sizing the header.
const LARGEST_PART_NUMBER: usize = 999_999;
/// Bytes kept free in every part beyond what is measured, against off-by-one surprises.
const SAFETY: usize = 64;
/// At most this many refused objects are listed under an environment's heading, so that a
/// section always fits one comment; the check run annotates every one.
const LISTED_VIOLATIONS: usize = 50;
/// At most this many re-pinned images are listed under an environment's heading, for the
/// same reason; each one's diff still shows it.
const LISTED_IMAGES: usize = 50;
/// A part must leave at least this much room for a diff piece.
const MIN_PIECE: usize = 1_024;

/// One block of a part, in report order.
struct Unit {
    env: usize,
    text: String,
    kind: UnitKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UnitKind {
    /// An environment's heading and summary table.
    Section,
    /// A note at the top of the report, belonging to no environment.
    Note,
    /// One piece of the diff of object `object` (index into the env's changes).
    Piece { object: usize },
}

impl UnitKind {
    /// Pieces continue an environment: a part starting with one repeats its heading.
    fn is_piece(self) -> bool {
        matches!(self, UnitKind::Piece { .. })
    }
}

struct Packed {
    /// Unit indices per part.
    parts: Vec<Vec<usize>>,
    /// The first unit that was not placed (== units.len() when all were).
    placed: usize,
}

pub(super) fn parts(
    templates: &Templates,
    preview: &Preview<'_>,
    extras: &Extras<'_>,
    limits: &Limits,
) -> Result<Vec<String>, ReportError> {
    report(templates, preview, extras, limits).map(|report| report.parts)
}

pub(super) fn report(
    templates: &Templates,
    preview: &Preview<'_>,
    extras: &Extras<'_>,
    limits: &Limits,
) -> Result<ReportParts, ReportError> {
    let budget = limits.part_budget.saturating_sub(limits.marker_budget);
    let max_parts = limits.max_parts.max(1);

    if !preview
        .environments
        .iter()
        .any(EnvironmentDiff::has_changes)
    {
        let names: Vec<&str> = preview
            .environments
            .iter()
            .map(|e| e.environment.as_str())
            .collect();
        let mut text = templates.header(preview, 1, 1)?;
        for note in extras.notes {
            text.push('\n');
            text.push_str(note);
        }
        // With notes and no environment compared (none rendered), there is nothing to call unchanged.
        if !names.is_empty() || extras.notes.is_empty() {
            text.push('\n');
            text.push_str(&templates.render(NO_CHANGES, context! { environments => names })?);
        }
        // Objects refused by policy are news even when nothing changed: what is there already
        // would not deploy.
        for env in preview.environments {
            if let Some(status) = extras
                .status_of(&env.environment)
                .filter(|s| !s.violations.is_empty())
            {
                text.push('\n');
                text.push_str(&section(templates, env, Some(status), false)?);
            }
        }
        return Ok(ReportParts {
            parts: vec![text],
            cut: false,
        });
    }

    let header_bound = templates
        .header(preview, LARGEST_PART_NUMBER, LARGEST_PART_NUMBER)?
        .len();
    let mut continued = Vec::new();
    for env in preview.environments {
        continued.push(section(templates, env, None, true)?);
    }
    let continued_bound = continued.iter().map(String::len).max().unwrap_or(0);

    let changes: Vec<Vec<&ObjectDiff>> = preview
        .environments
        .iter()
        .map(|e| e.changes().collect())
        .collect();

    let mut units = Vec::new();
    for note in extras.notes {
        units.push(Unit {
            env: 0,
            text: note.clone(),
            kind: UnitKind::Note,
        });
    }
    for (env_index, env) in preview.environments.iter().enumerate() {
        let status = extras.status_of(&env.environment);
        units.push(Unit {
            env: env_index,
            text: section(templates, env, status, false)?,
            kind: UnitKind::Section,
        });
        for (object_index, object) in changes[env_index].iter().enumerate() {
            let refused = status.is_some_and(|s| is_refused(s, object));
            let text = object.diff.as_deref().unwrap_or("");
            let fence = fence_for(text);
            let wrapper = details(
                templates,
                object,
                refused,
                "",
                &fence,
                LARGEST_PART_NUMBER,
                LARGEST_PART_NUMBER,
            )?
            .len();
            let overhead = header_bound + continued_bound + wrapper + 2 + SAFETY;
            let room = budget.saturating_sub(overhead);
            if room < MIN_PIECE {
                return Err(ReportError::LimitTooSmall { budget, overhead });
            }
            let pieces = split_lines(text, room);
            let count = pieces.len();
            for (piece_index, piece) in pieces.into_iter().enumerate() {
                units.push(Unit {
                    env: env_index,
                    text: details(
                        templates,
                        object,
                        refused,
                        piece,
                        &fence,
                        piece_index + 1,
                        count,
                    )?,
                    kind: UnitKind::Piece {
                        object: object_index,
                    },
                });
            }
        }
    }

    let sizes = Sizes {
        header: header_bound,
        continued: &continued,
    };
    let mut packed = pack(&units, &sizes, |_| budget, None)?;
    let mut overflow = None;
    if packed.parts.len() > max_parts {
        let summary_bound = overflow_summary(templates, preview, limits, &changes, None)?.len() + 1;
        let last_budget = budget.saturating_sub(summary_bound);
        packed = pack(
            &units,
            &sizes,
            |part| {
                if part + 1 == max_parts {
                    last_budget
                } else {
                    budget
                }
            },
            Some(max_parts),
        )?;
        let shown: BTreeSet<(usize, usize)> = units[..packed.placed]
            .iter()
            .filter_map(|u| match u.kind {
                UnitKind::Piece { object } => Some((u.env, object)),
                UnitKind::Section | UnitKind::Note => None,
            })
            .collect();
        let omitted: BTreeSet<(usize, usize)> = units[packed.placed..]
            .iter()
            .filter_map(|u| match u.kind {
                UnitKind::Piece { object } => Some((u.env, object)),
                UnitKind::Section | UnitKind::Note => None,
            })
            .collect();
        let partial = omitted.iter().any(|key| shown.contains(key));
        overflow = Some(overflow_summary(
            templates,
            preview,
            limits,
            &changes,
            Some((&omitted, partial)),
        )?);
    }

    let count = packed.parts.len();
    let mut out = Vec::with_capacity(count);
    for (index, part) in packed.parts.iter().enumerate() {
        let mut text = templates.header(preview, index + 1, count)?;
        for (position, &unit) in part.iter().enumerate() {
            let unit = &units[unit];
            if position == 0 && unit.kind.is_piece() {
                text.push('\n');
                text.push_str(&continued[unit.env]);
            }
            text.push('\n');
            text.push_str(&unit.text);
        }
        if index + 1 == count {
            if let Some(summary) = &overflow {
                text.push('\n');
                text.push_str(summary);
            }
        }
        debug_assert!(
            text.len() <= budget,
            "part {} is {} > {budget}",
            index + 1,
            text.len()
        );
        out.push(text);
    }
    Ok(ReportParts {
        parts: out,
        cut: overflow.is_some(),
    })
}

struct Sizes<'a> {
    header: usize,
    continued: &'a [String],
}

/// Greedy packing in report order. With `max_parts`, stops at the first unit that does not
/// fit in the last allowed part; without it every unit is placed.
fn pack(
    units: &[Unit],
    sizes: &Sizes<'_>,
    budget: impl Fn(usize) -> usize,
    max_parts: Option<usize>,
) -> Result<Packed, ReportError> {
    let mut parts: Vec<Vec<usize>> = vec![Vec::new()];
    let mut used = sizes.header;
    for (index, unit) in units.iter().enumerate() {
        loop {
            let current = parts.len() - 1;
            let starts_part = parts[current].is_empty();
            let mut cost = 1 + unit.text.len();
            if starts_part && unit.kind.is_piece() {
                cost += 1 + sizes.continued[unit.env].len();
            }
            if used + cost <= budget(current) {
                parts[current].push(index);
                used += cost;
                break;
            }
            let last_allowed = max_parts.is_some_and(|max| current + 1 >= max);
            if last_allowed {
                return Ok(Packed {
                    parts,
                    placed: index,
                });
            }
            if starts_part {
                return Err(ReportError::LimitTooSmall {
                    budget: budget(current),
                    overhead: used + cost,
                });
            }
            parts.push(Vec::new());
            used = sizes.header;
        }
    }
    Ok(Packed {
        parts,
        placed: units.len(),
    })
}

fn section(
    templates: &Templates,
    env: &EnvironmentDiff,
    status: Option<&EnvironmentStatus>,
    continued: bool,
) -> Result<String, ReportError> {
    let refused_of = |kind: &str| {
        status.map_or(0, |s| {
            s.violations
                .iter()
                .filter(|v| v.object.kind == kind)
                .count()
        })
    };
    let rows: Vec<_> = env
        .summary
        .iter()
        .filter(|k| k.added + k.changed + k.removed > 0)
        .map(|k| {
            context! {
                kind => k.kind,
                added => k.added,
                changed => k.changed,
                removed => k.removed,
                refused => refused_of(&k.kind),
            }
        })
        .collect();
    let unchanged: usize = env.summary.iter().map(|k| k.unchanged).sum();
    let status = status.map(status_context);
    let changes = super::images::digest_changes(env);
    let images_unlisted = changes.len().saturating_sub(LISTED_IMAGES);
    let images: Vec<_> = changes
        .iter()
        .take(LISTED_IMAGES)
        .map(|change| {
            context! {
                repository => change.from.repository,
                from => image_context(&change.from),
                to => image_context(&change.to),
            }
        })
        .collect();
    templates.render(
        ENV_SECTION,
        context! {
            environment => env.environment, continued, rows, unchanged, status, images,
            images_unlisted,
        },
    )
}

/// How many hex digits of a digest a reader is shown, as a short commit id is.
const DIGEST_SHOWN: usize = 12;

/// A reference's tag and digest as the templates show them: `digest` shortened to
/// [`DIGEST_SHOWN`] hex digits after its algorithm, `digest_cut` whether it was.
fn image_context(image: &super::images::ImageRef) -> minijinja::Value {
    let digest = image.digest.as_deref().map(|digest| {
        let (algorithm, hex) = digest.split_once(':').unwrap_or(("", digest));
        let shown: String = hex.chars().take(DIGEST_SHOWN).collect();
        let cut = shown.len() < hex.len();
        let text = if algorithm.is_empty() {
            shown
        } else {
            format!("{algorithm}:{shown}")
        };
        (text, cut)
    });
    context! {
        tag => image.tag,
        digest => digest.as_ref().map(|(text, _)| text),
        digest_cut => digest.as_ref().is_some_and(|(_, cut)| *cut),
    }
}

/// An environment's status as the templates see it: `lock` is `unknown`, `unlocked` or
/// `locked` (with `locked` holding who, since when, why).
fn status_context(status: &EnvironmentStatus) -> minijinja::Value {
    let (lock, locked) = match &status.lock {
        Lock::Unknown => ("unknown", None),
        Lock::Unlocked => ("unlocked", None),
        Lock::Locked(lock) => ("locked", Some(lock)),
    };
    let violations: Vec<_> = status
        .violations
        .iter()
        .take(LISTED_VIOLATIONS)
        .map(|v| {
            context! {
                location => format!("{}:{}", v.file, v.line),
                message => v.message,
            }
        })
        .collect();
    let compared = match &status.compared_with {
        ComparedWith::Unknown => None,
        ComparedWith::Deployed { commit, at } => Some(context! {
            kind => "deployed", commit, at,
        }),
        ComparedWith::MergeBase { commit, deployed } => Some(context! {
            kind => "merge_base",
            commit,
            deployed => deployed.as_ref().map(|(commit, _)| commit),
            at => deployed.as_ref().and_then(|(_, at)| at.as_ref()),
        }),
    };
    context! {
        compared,
        lock,
        locked,
        required_approvals => status.required_approvals,
        cluster => status.cluster,
        refused => status.violations.len(),
        violations,
        unlisted => status.violations.len().saturating_sub(LISTED_VIOLATIONS),
    }
}

/// Whether `object` is one of the head's objects the environment's policy refuses.
fn is_refused(status: &EnvironmentStatus, object: &ObjectDiff) -> bool {
    object.change != Change::Removed
        && status.violations.iter().any(|v| {
            let key = &v.object;
            key.group == object.id.group
                && key.kind == object.id.kind
                && key.namespace.as_deref().unwrap_or("") == object.id.namespace
                && key.name == object.id.name
        })
}

fn details(
    templates: &Templates,
    object: &ObjectDiff,
    refused: bool,
    diff: &str,
    fence: &str,
    piece: usize,
    pieces: usize,
) -> Result<String, ReportError> {
    let id = &object.id;
    let display_name = if id.namespace.is_empty() {
        id.name.clone()
    } else {
        format!("{}/{}", id.namespace, id.name)
    };
    let source = object
        .head
        .as_ref()
        .or(object.base.as_ref())
        .map(|s| format!("{}:{}", s.file, s.line));
    templates.render(
        OBJECT_DETAILS,
        context! {
            change => change_word(object.change),
            kind => id.kind,
            group => id.group,
            namespace => id.namespace,
            name => id.name,
            display_name,
            source,
            refused,
            diff,
            fence,
            piece,
            pieces,
            continued => piece > 1,
        },
    )
}

/// The counts of what is not shown (or, with `omitted: None`, of everything: an upper bound
/// of the summary's size), per environment and kind.
fn overflow_summary(
    templates: &Templates,
    preview: &Preview<'_>,
    limits: &Limits,
    changes: &[Vec<&ObjectDiff>],
    omitted: Option<(&BTreeSet<(usize, usize)>, bool)>,
) -> Result<String, ReportError> {
    let mut rows: BTreeMap<(usize, &str), [usize; 3]> = BTreeMap::new();
    let mut total = 0;
    for (env, objects) in changes.iter().enumerate() {
        for (index, object) in objects.iter().enumerate() {
            if omitted.is_some_and(|(set, _)| !set.contains(&(env, index))) {
                continue;
            }
            let counts = rows.entry((env, &object.id.kind)).or_default();
            match object.change {
                Change::Added => counts[0] += 1,
                Change::Changed => counts[1] += 1,
                Change::Removed => counts[2] += 1,
                Change::Unchanged => {}
            }
            total += 1;
        }
    }
    let rows: Vec<_> = rows
        .into_iter()
        .map(|((env, kind), [added, changed, removed])| {
            context! {
                environment => preview.environments[env].environment,
                kind,
                added,
                changed,
                removed,
            }
        })
        .collect();
    templates.render(
        OVERFLOW_SUMMARY,
        context! {
            omitted_total => total,
            max_parts => limits.max_parts.max(1),
            partial => omitted.is_none_or(|(_, partial)| partial),
            rows,
            command => preview.full_command,
            fence => fence_for(preview.full_command),
        },
    )
}

fn change_word(change: Change) -> &'static str {
    match change {
        Change::Added => "added",
        Change::Removed => "removed",
        Change::Changed => "changed",
        Change::Unchanged => "unchanged",
    }
}

/// A code fence longer than any run of backticks in `text`.
pub fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// Split `text` into pieces of at most `max` bytes, at line boundaries; a single line
/// longer than `max` is cut at character boundaries (it continues in the next piece).
fn split_lines(text: &str, max: usize) -> Vec<&str> {
    if text.len() <= max {
        return vec![text];
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < text.len() {
        if text.len() - start <= max {
            pieces.push(&text[start..]);
            break;
        }
        let window_end = floor_char_boundary(text, start + max);
        let end = match text[start..window_end].rfind('\n') {
            Some(newline) => start + newline + 1,
            None => window_end.max(start + text[start..].chars().next().map_or(1, char::len_utf8)),
        };
        pieces.push(&text[start..end]);
        start = end;
    }
    pieces
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_lines_keeps_every_byte_and_cuts_at_newlines() {
        let text = "aaaa\nbbbb\ncccc\n";
        let pieces = split_lines(text, 11);
        assert_eq!(pieces, ["aaaa\nbbbb\n", "cccc\n"]);
        assert_eq!(pieces.concat(), text);
    }

    #[test]
    fn split_lines_cuts_an_overlong_line_at_char_boundaries() {
        let text = "ééééé\n";
        let pieces = split_lines(text, 4);
        assert!(pieces.iter().all(|p| p.len() <= 4));
        assert_eq!(pieces.concat(), text);
    }

    #[test]
    fn fence_outgrows_backticks_in_the_text() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("+ ````md"), "`````");
    }
}
