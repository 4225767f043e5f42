use calc::{add, divide};

#[test]
fn passes() {
    assert_eq!(add(1, 1), 2);
}

#[test]
fn assert_eq_fails() {
    assert_eq!(add(2, 2), 5);
}

#[test]
fn assert_fails() {
    assert!(add(2, 2) > 10, "sum too small: {}", add(2, 2));
}

#[test]
fn assert_ne_fails() {
    assert_ne!(add(1, 1), 2);
}

#[test]
fn bare_assert_fails() {
    assert!(add(1, 1) == 3);
}

#[test]
fn unexpected_panic() {
    let v: Vec<i64> = Vec::new();
    assert_eq!(v[3], divide(4, 2));
}

#[test]
fn explicit_panic() {
    panic!("storage is not configured");
}

#[test]
fn unwrap_on_none() {
    let found: Option<i64> = None;
    assert_eq!(found.unwrap(), 1);
}

#[test]
#[ignore = "not ready yet"]
fn skipped() {
    assert_eq!(add(0, 0), 1);
}

#[test]
#[should_panic(expected = "divide by zero")]
fn should_panic_passes() {
    divide(1, 0);
}

mod nested {
    #[test]
    fn in_module_passes() {
        assert_eq!(calc::add(-1, 1), 0);
    }
}

#[test]
#[should_panic(expected = "overflow")]
fn should_panic_wrong_message() {
    divide(1, 0);
}

#[test]
#[should_panic]
fn should_panic_without_panic() {
    divide(4, 2);
}

#[test]
fn returns_err() -> Result<(), String> {
    println!("captured output line");
    Err("no config file".to_string())
}
