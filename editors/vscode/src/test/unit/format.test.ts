// Unit tests of format.ts: spans as the CLI writes them, the countdown, durations typed by
// people (and the errors for bad ones), and what a request asks for.

import * as assert from "node:assert/strict";
import { test } from "node:test";

import { clockTime, countdown, describeAccess, parseDuration, shortList, span, statusLabel } from "../../format";

test("spans are written in the largest units that matter, as jit writes them", () => {
  assert.equal(span(0), "0s");
  assert.equal(span(45), "45s");
  assert.equal(span(59.9), "59s");
  assert.equal(span(60), "1m");
  assert.equal(span(89), "1m");
  assert.equal(span(90), "2m");
  assert.equal(span(1800), "30m");
  assert.equal(span(3600), "1h");
  assert.equal(span(5400), "1h 30m");
  assert.equal(span(4200), "1h 10m");
  assert.equal(span(86400), "1d");
  assert.equal(span(2 * 86400 + 3 * 3600), "2d 3h");
  assert.equal(span(-5), "0s");
});

test("the countdown ticks in seconds under an hour and never goes negative", () => {
  assert.equal(countdown(0), "0:00");
  assert.equal(countdown(42.7), "0:42");
  assert.equal(countdown(545), "9:05");
  assert.equal(countdown(3599), "59:59");
  assert.equal(countdown(3600), "1h 00m");
  assert.equal(countdown(3900), "1h 05m");
  assert.equal(countdown(86400 + 7200), "1d 2h");
  assert.equal(countdown(-3), "0:00");
});

test("durations are read as jit reads them", () => {
  assert.equal(parseDuration("90s"), 90);
  assert.equal(parseDuration("30m"), 1800);
  assert.equal(parseDuration("1h30m"), 5400);
  assert.equal(parseDuration(" 1h 30m "), 5400);
  assert.equal(parseDuration("2d"), 172800);
  assert.equal(parseDuration("1 hour"), 3600);
  assert.equal(parseDuration("10 Minutes"), 600);
});

test("bad durations say what to type instead", () => {
  assert.throws(() => parseDuration(""), /no duration given: expected a duration like 30m, 1h30m or 2d/);
  assert.throws(() => parseDuration("30"), /"30" is not a duration: expected a duration like 30m/);
  assert.throws(() => parseDuration("soon"), /"soon" is not a duration/);
  assert.throws(() => parseDuration("3 fortnights"), /unknown unit "fortnights"/);
  assert.throws(() => parseDuration("0m"), /a duration must be at least 1s/);
  assert.throws(() => parseDuration("1h-5m"), /is not a duration/);
  assert.throws(() => parseDuration("99999999999999999999d"), /too long a duration/);
});

test("statuses are capitalised and access is described like the CLI", () => {
  assert.equal(statusLabel("granted"), "Granted");
  assert.equal(statusLabel(""), "");
  assert.equal(
    describeAccess({
      entries: [{ integration: "pg-main", resource_type: "database", resources: ["orders", "billing"], permissions: ["read"] }],
    }),
    "pg-main/database orders, billing (read)",
  );
  assert.equal(describeAccess({ bundle: "oncall", entries: [] }), "bundle oncall");
  assert.equal(shortList(["a", "b", "c", "d", "e"]), "a, b, c +2 more");
});

test("clock times are short today and dated otherwise", () => {
  const now = new Date(2026, 10, 23, 12, 0);
  assert.equal(clockTime(new Date(2026, 10, 23, 14, 5), now), "14:05");
  assert.equal(clockTime(new Date(2026, 10, 24, 9, 7), now), "2026-11-24 09:07");
});
