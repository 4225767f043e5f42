import { expect, test } from "vitest";
// @ts-expect-error power is what the task will create
import { power } from "../src/calc";

test("power", () => {
  expect(power(2, 3)).toBe(8);
});
