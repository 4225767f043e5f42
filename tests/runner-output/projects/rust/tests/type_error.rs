use calc::add;

#[test]
fn wrong_types() {
    let total: String = add(1, 2);
    assert_eq!(total, "3");
}
