//! `Module:` and `Tests:` paths: relative, inside the workspace, one owner per test file.

use std::collections::HashMap;

use crate::diagnostic::{Code, Diagnostic};
use crate::model::Prd;
use crate::text::Spanned;

/// Why a path is unsafe for a worker to write, if it is.
pub fn path_problem(path: &str) -> Option<&'static str> {
    let p = path.trim();
    if p.is_empty() {
        return Some("the path is empty");
    }
    if p.starts_with('/') || p.starts_with('\\') || p.as_bytes().get(1) == Some(&b':') {
        return Some("absolute paths are not allowed; give it relative to the project root");
    }
    if p.starts_with('~') {
        return Some("home-relative paths are not allowed; give it relative to the project root");
    }
    if p.contains('\0') {
        return Some("the path contains a NUL byte");
    }
    let mut depth: i64 = 0;
    let mut dotdot = false;
    for part in p.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                dotdot = true;
                depth -= 1;
            }
            _ => depth += 1,
        }
        if depth < 0 {
            return Some("it leaves the workspace; keep it inside the project root");
        }
    }
    dotdot.then_some("`..` is not allowed; write the path without it, relative to the project root")
}

/// Collapse `./` and duplicate separators so equal paths compare equal.
fn normalize(path: &str) -> String {
    path.split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

pub fn unsafe_paths(prd: &Prd, out: &mut Vec<Diagnostic>) {
    for req in &prd.requirements {
        let module = req.module.iter().map(|m| ("module", m));
        let tests = req.tests.iter().map(|t| ("test", t));
        for (kind, path) in module.chain(tests) {
            if let Some(problem) = path_problem(&path.value) {
                out.push(Diagnostic::new(
                    Code::UnsafePath,
                    path.span,
                    format!(
                        "{kind} path `{}` of `{}`: {problem}",
                        path.value, req.id.value
                    ),
                ));
            }
        }
    }
}

pub fn shared_test_files(prd: &Prd, out: &mut Vec<Diagnostic>) {
    let mut owners: HashMap<String, (&str, &Spanned<String>)> = HashMap::new();
    for req in &prd.requirements {
        for test in &req.tests {
            let key = normalize(&test.value);
            match owners.get(&key) {
                Some((owner, first)) if !owner.eq_ignore_ascii_case(&req.id.value) => out.push(
                    Diagnostic::new(
                        Code::SharedTestFile,
                        test.span,
                        format!(
                            "`{}` is already the test file of `{owner}`; two requirements writing one test file would run into each other: give `{}` its own",
                            test.value, req.id.value
                        ),
                    )
                    .with_related(first.span, format!("claimed by {owner} here")),
                ),
                Some(_) => {}
                None => {
                    owners.insert(key, (&req.id.value, test));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::path_problem;

    #[test]
    fn path_rules() {
        assert!(path_problem("src/loans.py").is_none());
        assert!(path_problem("./tests/test_loans.py").is_none());
        assert!(path_problem("/etc/passwd").is_some());
        assert!(path_problem("C:\\x").is_some());
        assert!(path_problem("src/../x.py").is_some());
        assert!(path_problem("../../x.py").unwrap().contains("leaves"));
        assert!(path_problem("~/x").is_some());
    }
}
