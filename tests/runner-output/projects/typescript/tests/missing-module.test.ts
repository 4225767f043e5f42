import { expect, test } from "vitest";
// @ts-expect-error the module is what the task will create
import { area } from "../src/geometry";

test("area", () => {
  expect(area(2, 3)).toBe(6);
});
