//! Data-driven snapshots: every file under tests/corpus/ in, its diagnostics
//! out (position, code, message, related locations, fix titles). Review a
//! change with `INSTA_UPDATE=always cargo test -p tdd-core --test it corpus::` and `git diff`.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use tdd_core::analysis::{Options, analyze};
use tdd_core::text::{ColumnUnit, LineIndex};

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "snapshots") {
                corpus_files(&path, out);
            }
        } else if !path.extension().is_some_and(|e| e == "snap" || e == "new") {
            out.push(path);
        }
    }
}

fn render(name: &str, text: &str) -> String {
    let analysis = analyze(name, text, &Options::default());
    let index = LineIndex::new(text);
    let at = |offset| {
        let lc = index.line_col(text, offset, ColumnUnit::Char);
        format!("{}:{}", lc.line + 1, lc.col + 1)
    };
    let prd = &analysis.prd;
    let mut out = format!("format: {}\n", prd.format.as_str());
    // The model, so a clean file still pins what was read.
    for r in &prd.requirements {
        let list = |items: &[tdd_core::text::Spanned<String>]| {
            items
                .iter()
                .map(|i| i.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "requirement {} {:?} at {}",
            r.id.value,
            r.title.value,
            at(r.id.span.start)
        );
        if let Some(story) = &r.story {
            let _ = writeln!(out, "    story: {}", story.value);
        }
        if let Some(module) = &r.module {
            let _ = writeln!(out, "    module: {}", module.value);
        }
        if !r.tests.is_empty() {
            let _ = writeln!(out, "    tests: {}", list(&r.tests));
        }
        if !r.depends_on.is_empty() {
            let _ = writeln!(out, "    depends on: {}", list(&r.depends_on));
        }
        for c in &r.criteria {
            let id = c.id.as_ref().map_or("(no id)", |i| i.value.as_str());
            let _ = writeln!(
                out,
                "    criterion {id} [{:?}]: {}",
                tdd_core::ears::classify(&c.text.value),
                c.text.value
            );
        }
    }
    for c in &prd.shared_criteria {
        let id = c.id.as_ref().map_or("(no id)", |i| i.value.as_str());
        let _ = writeln!(out, "shared criterion {id}: {}", c.text.value);
    }
    for n in &prd.nfrs {
        let _ = writeln!(out, "nfr {}: {}", n.id.value, n.text.value);
    }
    out.push_str("diagnostics:\n");
    for d in &analysis.diagnostics {
        let _ = writeln!(
            out,
            "{} {}[{}] {}",
            at(d.span.start),
            d.severity.as_str(),
            d.code.as_str(),
            d.message
        );
        for r in &d.related {
            let _ = writeln!(out, "    related {}: {}", at(r.span.start), r.message);
        }
        for f in &d.fixes {
            let _ = writeln!(out, "    fix: {}", f.title);
        }
    }
    out
}

#[test]
fn corpus_snapshots() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus");
    let mut files = Vec::new();
    corpus_files(&root, &mut files);
    assert!(files.len() >= 8, "corpus not found at {}", root.display());
    for path in files {
        let name = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('/', "__");
        let text = std::fs::read_to_string(&path).unwrap();
        insta::with_settings!({
            snapshot_path => root.join("snapshots"),
            prepend_module_to_snapshot => false,
            description => path.strip_prefix(&root).unwrap().to_string_lossy().to_string(),
        }, {
            insta::assert_snapshot!(name.clone(), render(&name, &text));
        });
    }
}
