import { expect, test } from "vitest";

const settings = JSON.parse(process.env.RR_SETTINGS_THAT_IS_NEVER_SET ?? "{");

test("uses settings", () => {
  expect(settings).toBeTruthy();
});
