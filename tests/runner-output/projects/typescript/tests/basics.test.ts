import { describe, expect, it, test } from "vitest";
import * as calc from "../src/calc";
import { add, divide } from "../src/calc";

test("add passes", () => {
  expect(add(2, 3)).toBe(5);
});

test("add assertion fails", () => {
  expect(add(2, 2)).toBe(5);
});

test("deep equality fails", () => {
  expect({ total: add(1, 1) }).toEqual({ total: 3 });
});

test.skip("skipped", () => {
  expect(add(0, 0)).toBe(1);
});

test.todo("todo later");

test("calls a function that does not exist yet", () => {
  // @ts-expect-error multiply is what the task will create
  expect(calc.multiply(2, 3)).toBe(6);
});

test("uses a name that is not defined", () => {
  // @ts-expect-error subtract is what the task will create
  expect(subtract(3, 2)).toBe(1);
});

test("unexpected exception", () => {
  expect(divide(1, 0)).toBe(0);
});

describe("group", () => {
  it("nested passes", () => {
    expect(divide(6, 3)).toBe(2);
  });

  it.each([
    [1, 1, 2],
    [2, 2, 5],
  ])("add(%i, %i) is %i", (a, b, total) => {
    expect(add(a, b)).toBe(total);
  });
});
