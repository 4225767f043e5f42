//! Ids and the requirement dependency graph: duplicates, unknown targets, cycles.

use std::collections::HashMap;

use super::{Edits, newline};
use crate::diagnostic::{Code, Diagnostic, Edit};
use crate::ids;
use crate::model::{Prd, Requirement};
use crate::text::{Span, Spanned};

/// Every id in the document, in source order.
fn all_ids(prd: &Prd) -> Vec<&Spanned<String>> {
    let mut all: Vec<&Spanned<String>> = Vec::new();
    for req in &prd.requirements {
        all.push(&req.id);
        all.extend(req.criteria.iter().filter_map(|c| c.id.as_ref()));
    }
    all.extend(prd.shared_criteria.iter().filter_map(|c| c.id.as_ref()));
    all.extend(prd.nfrs.iter().map(|n| &n.id));
    all.sort_by_key(|id| id.span.start);
    all
}

pub fn duplicate_ids(prd: &Prd, edits: Edits, out: &mut Vec<Diagnostic>) {
    let all = all_ids(prd);
    let mut taken: Vec<String> = all.iter().map(|id| id.value.to_ascii_uppercase()).collect();
    let mut first: HashMap<String, &Spanned<String>> = HashMap::new();
    for id in &all {
        let key = id.value.to_ascii_uppercase();
        let Some(original) = first.get(&key) else {
            first.insert(key, id);
            continue;
        };
        let message = format!(
            "`{}` is already used; every requirement, criterion and NFR needs its own id",
            id.value
        );
        let mut diag = Diagnostic::new(Code::DuplicateId, id.span, message).with_related(
            original.span,
            format!("`{}` first defined here", original.value),
        );
        if edits.enabled
            && let Some(head) = renumber_head(prd, id)
        {
            let refs: Vec<&str> = taken.iter().map(String::as_str).collect();
            let fresh = ids::next_free(&head, &refs);
            let edit = Edit {
                span: id.span,
                new_text: fresh.clone(),
            };
            diag = diag.with_fix(format!("Renumber to {fresh}"), vec![edit]);
            taken.push(fresh.to_ascii_uppercase());
        }
        out.push(diag);
    }
}

/// The id stem a duplicate is renumbered under: a criterion joins its own
/// requirement's group (`AC-1.1` under REQ-3 becomes `AC-3.n`); anything else
/// keeps its stem (`REQ-2` becomes `REQ-n`).
fn renumber_head(prd: &Prd, id: &Spanned<String>) -> Option<String> {
    let (head, _) = ids::split_number(&id.value)?;
    let owner = prd.requirements.iter().find(|r| {
        r.criteria
            .iter()
            .any(|c| c.id.as_ref().is_some_and(|i| i.span == id.span))
    });
    let owner_number = owner
        .and_then(|r| ids::split_number(&r.id.value))
        .map(|(_, n)| n);
    match owner_number {
        Some(n) if head.contains('.') => Some(format!(
            "{}-{n}.",
            &id.value[..ids::prefix(&id.value).len()]
        )),
        _ => Some(head.to_string()),
    }
}

/// What a `Depends on:` entry that names no requirement points at instead.
enum Target<'a> {
    NotAnId,
    Criterion(Option<&'a Requirement>),
    Nfr,
    Missing,
}

fn target<'a>(prd: &'a Prd, dep: &str) -> Target<'a> {
    let same = |id: &Spanned<String>| id.value.eq_ignore_ascii_case(dep);
    if !ids::is_id(dep) {
        Target::NotAnId
    } else if let Some((owner, _)) = prd
        .criteria()
        .find(|(_, c)| c.id.as_ref().is_some_and(same))
    {
        Target::Criterion(owner)
    } else if prd.nfrs.iter().any(|n| same(&n.id)) {
        Target::Nfr
    } else {
        Target::Missing
    }
}

pub fn unknown_dependencies(prd: &Prd, text: &str, edits: Edits, out: &mut Vec<Diagnostic>) {
    let known: std::collections::HashSet<String> = prd
        .requirements
        .iter()
        .map(|r| r.id.value.to_ascii_uppercase())
        .collect();
    for req in &prd.requirements {
        for dep in &req.depends_on {
            if known.contains(&dep.value.to_ascii_uppercase()) {
                continue;
            }
            let (name, of) = (&dep.value, &req.id.value);
            let target = target(prd, name);
            let message = match target {
                Target::NotAnId => format!(
                    "`{name}` is not a requirement id; list ids such as `REQ-2`, separated by commas"
                ),
                Target::Criterion(Some(owner)) => {
                    format!(
                        "`{name}` is an acceptance criterion of `{}`; depend on the requirement instead",
                        owner.id.value
                    )
                }
                Target::Criterion(None) => {
                    format!("`{name}` is an acceptance criterion; depend on a requirement instead")
                }
                Target::Nfr => format!(
                    "`{name}` is a non-functional requirement; only requirements can be dependencies"
                ),
                Target::Missing => {
                    format!("`{of}` depends on `{name}`, which is not defined in this PRD")
                }
            };
            let mut diag = Diagnostic::new(Code::UnknownDependency, dep.span, message);
            if edits.enabled {
                if let Target::Criterion(Some(owner)) = target {
                    let edit = Edit {
                        span: dep.span,
                        new_text: owner.id.value.clone(),
                    };
                    diag =
                        diag.with_fix(format!("Depend on {} instead", owner.id.value), vec![edit]);
                }
                if let Some(edit) = remove_dependency(text, req.depends_line, &req.depends_on, dep)
                {
                    diag = diag.with_fix(format!("Remove dependency on {name}"), vec![edit]);
                }
                if matches!(target, Target::Missing) {
                    let at = prd.requirements_end.unwrap_or(text.len());
                    diag = diag.with_fix(
                        format!("Create requirement {name}"),
                        vec![stub(prd, text, at, name)],
                    );
                }
            }
            out.push(diag);
        }
    }
}

/// Rewrites the `Depends on:` line without `dep`.
fn remove_dependency(
    text: &str,
    line: Option<Span>,
    deps: &[Spanned<String>],
    dep: &Spanned<String>,
) -> Option<Edit> {
    let line = line?;
    let first = deps.first()?.span.start;
    let last = deps.last()?.span.end;
    if first < line.start || last > line.end {
        return None;
    }
    let kept: Vec<&str> = deps
        .iter()
        .filter(|d| d.span != dep.span)
        .map(|d| d.value.as_str())
        .collect();
    if kept.is_empty() {
        // Drop the whole line, with its line break.
        let end = text[line.end..]
            .find('\n')
            .map_or(text.len(), |i| line.end + i + 1);
        return Some(Edit {
            span: Span::new(line.start, end),
            new_text: String::new(),
        });
    }
    Some(Edit {
        span: Span::new(first, last),
        new_text: kept.join(", "),
    })
}

fn stub(prd: &Prd, text: &str, at: usize, id: &str) -> Edit {
    let nl = newline(text);
    let level = prd
        .requirements
        .first()
        .map(|r| {
            r.header
                .slice(text)
                .bytes()
                .take_while(|b| *b == b'#')
                .count()
        })
        .filter(|n| *n > 0)
        .unwrap_or(3);
    let hashes = "#".repeat(level);
    let number = ids::split_number(id).map_or("1".to_string(), |(_, n)| n.to_string());
    let body = format!(
        "{nl}{nl}{hashes} {id} New requirement{nl}{nl}Acceptance criteria:{nl}- AC-{number}.1: WHEN <trigger> THE SYSTEM SHALL <observable response>.{nl}"
    );
    let at = crate::text::floor_char_boundary(text, at);
    // Insert after the end of the line at `at`.
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let body = body.trim_end_matches(nl).to_string();
    Edit {
        span: Span::empty(line_end),
        new_text: body,
    }
}

pub fn dependency_cycles(prd: &Prd, out: &mut Vec<Diagnostic>) {
    let index: HashMap<String, usize> = prd
        .requirements
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.value.to_ascii_uppercase(), i))
        .collect();
    let edges: Vec<Vec<(usize, &Spanned<String>)>> = prd
        .requirements
        .iter()
        .map(|r| {
            r.depends_on
                .iter()
                .filter_map(|d| Some((*index.get(&d.value.to_ascii_uppercase())?, d)))
                .collect()
        })
        .collect();
    for cycle in find_cycles(&edges) {
        let names: Vec<&str> = cycle
            .iter()
            .map(|(from, _)| prd.requirements[*from].id.value.as_str())
            .collect();
        let path = names
            .iter()
            .chain(names.first())
            .copied()
            .collect::<Vec<_>>()
            .join(" → ");
        let (_, first_edge) = cycle[0];
        let mut diag = Diagnostic::new(
            Code::DependencyCycle,
            first_edge.span,
            format!(
                "dependency cycle: {path}; remove one of these dependencies so the requirements can be ordered"
            ),
        );
        for (from, edge) in &cycle[1..] {
            let from = &prd.requirements[*from].id.value;
            diag = diag.with_related(edge.span, format!("{from} depends on {}", edge.value));
        }
        out.push(diag);
    }
}

/// Elementary cycles found by an iterative depth-first search; each cycle is
/// reported once, starting at its earliest requirement. Returns the edges
/// (source index, reference) in cycle order.
fn find_cycles<'a>(
    edges: &[Vec<(usize, &'a Spanned<String>)>],
) -> Vec<Vec<(usize, &'a Spanned<String>)>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut mark = vec![Mark::New; edges.len()];
    let mut cycles = Vec::new();
    for root in 0..edges.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // Stack of (node, next edge index); `path` holds the edge taken into each node.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        let mut path: Vec<(usize, &Spanned<String>)> = Vec::new();
        mark[root] = Mark::Active;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&(target, reference)) = edges[node].get(*next) {
                *next += 1;
                match mark[target] {
                    Mark::New => {
                        mark[target] = Mark::Active;
                        path.push((node, reference));
                        stack.push((target, 0));
                    }
                    Mark::Active => {
                        let start = stack.iter().position(|(n, _)| *n == target).unwrap_or(0);
                        let mut cycle: Vec<(usize, &Spanned<String>)> = path[start..].to_vec();
                        cycle.push((node, reference));
                        cycles.push(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
                path.pop();
            }
        }
    }
    cycles
}
