import { expect, test } from "vitest";
import { add } from "../src/calc";

test("broken", () => {
  expect(add(1, 1).toBe(2);
});
