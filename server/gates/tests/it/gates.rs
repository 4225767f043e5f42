//! What the rule tables of `gate_cases` do not show: the stub scan's file
//! languages, and the constant-return scan over every fixture.

use std::path::PathBuf;

use tdd_core::config::Language;
use tdd_gates::stubs;

#[test]
fn stub_languages_come_from_the_extension() {
    assert_eq!(stubs::language_of("calc.py"), Some(Language::Python));
    assert_eq!(stubs::language_of("src/lib.rs"), Some(Language::Rust));
    assert_eq!(stubs::language_of("calc_test.go"), Some(Language::Go));
    assert_eq!(stubs::language_of("a/b.tsx"), Some(Language::Typescript));
    assert_eq!(stubs::language_of("pyproject.toml"), None);
    assert_eq!(stubs::language_of("Makefile"), None);
}

/// The constant-return scan on every Python file of the fixtures and every
/// Python file a fixture's solution or worker script writes, each taken as
/// new (its strictest reading): no finding, so none of the fixtures'
/// honest code is mistaken for a hard-coded answer.
#[test]
fn the_constant_return_scan_finds_nothing_in_the_fixtures() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() && name != "node_modules" && name != "target" {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "py") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path.display().to_string(), text));
            } else if path.extension().is_some_and(|e| e == "toml") {
                // Solutions and worker scripts: `"path.py" = "text"` pairs.
                let value: toml::Value =
                    toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                python_in(&value, &path.display().to_string(), &mut files);
            }
        }
    }
    assert!(files.len() >= 10, "{}", files.len());
    eprintln!("{} Python files of the fixtures scanned", files.len());
    let found: Vec<String> = files
        .iter()
        .flat_map(|(path, text)| stubs::constant_returns(Language::Python, path, None, text))
        .map(|f| format!("{}:{}: {}", f.file, f.line, f.message))
        .collect();
    assert!(found.is_empty(), "{found:#?}");
}

/// Every `"<file>.py" = "<text>"` pair in a TOML value, named by where it is.
fn python_in(value: &toml::Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                match value {
                    toml::Value::String(text) if key.ends_with(".py") => {
                        out.push((format!("{at}: {key}"), text.clone()));
                    }
                    _ => python_in(value, at, out),
                }
            }
        }
        toml::Value::Array(items) => items.iter().for_each(|v| python_in(v, at, out)),
        _ => {}
    }
}
