use calc::add;
use calc::power;

#[test]
fn power_works() {
    assert_eq!(power(2, 3), 8);
    assert_eq!(multiply(2, 3), add(3, 3));
    let m = calc::matrix::Matrix::identity(2);
    let _p: Point = Point { x: 1, y: 2 };
    assert_eq!(m.size(), 2);
}
