// Words and numbers for people, as the `jit` CLI writes them (docs/cli.md, Output): spans
// ("30m", "1h 30m"), the status bar's countdown, durations typed by the user, statuses, and
// what a request asks for. Pure functions, tested without VS Code.

import { Request } from "./api";

/** A span of seconds in the largest units that matter: `45s`, `30m`, `1h 30m`, `2d 3h`. */
export function span(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  if (s < 60) {
    return `${s}s`;
  }
  const minutes = Math.floor((s + 30) / 60);
  if (minutes < 60) {
    return `${minutes}m`;
  }
  const hours = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (hours < 24) {
    return m === 0 ? `${hours}h` : `${hours}h ${m}m`;
  }
  const days = Math.floor(hours / 24);
  const h = hours % 24;
  return h === 0 ? `${days}d` : `${days}d ${h}h`;
}

/**
 * A countdown that visibly ticks: `m:ss` under an hour (`9:05`, `0:42`), `1h 05m` under a
 * day, `2d 3h` beyond. Never negative.
 */
export function countdown(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  if (s < 3600) {
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

const UNITS: Record<string, number> = {
  s: 1,
  sec: 1,
  secs: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  mins: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hr: 3600,
  hour: 3600,
  hours: 3600,
  d: 86400,
  day: 86400,
  days: 86400,
};

/**
 * Parses a duration as `jit` takes it (`90s`, `30m`, `1h30m`, `1h 30m`, `2d`) into whole
 * seconds. Throws an Error saying what to type instead.
 */
export function parseDuration(text: string): number {
  const t = text.trim().toLowerCase();
  const hint = "expected a duration like 30m, 1h30m or 2d";
  if (t === "") {
    throw new Error(`no duration given: ${hint}`);
  }
  const part = /(\d+)\s*([a-z]+)\s*/y;
  let total = 0;
  let at = 0;
  while (at < t.length) {
    part.lastIndex = at;
    const m = part.exec(t);
    if (m === null) {
      throw new Error(`"${text.trim()}" is not a duration: ${hint}`);
    }
    const unit = UNITS[m[2]];
    if (unit === undefined) {
      throw new Error(`unknown unit "${m[2]}" in "${text.trim()}": ${hint}`);
    }
    total += Number(m[1]) * unit;
    at = part.lastIndex;
  }
  if (!Number.isSafeInteger(total)) {
    throw new Error(`"${text.trim()}" is too long a duration`);
  }
  if (total === 0) {
    throw new Error("a duration must be at least 1s");
  }
  return total;
}

/** A status as people see it: `Granted`, `Pending`, … */
export function statusLabel(status: string): string {
  return status.length === 0 ? status : status[0].toUpperCase() + status.slice(1);
}

/** What a request asks for: `pg-main/database orders, billing (read)` or `bundle oncall`. */
export function describeAccess(r: Pick<Request, "bundle" | "entries">): string {
  if (r.bundle !== undefined) {
    return `bundle ${r.bundle}`;
  }
  return r.entries
    .map((e) => `${e.integration}/${e.resource_type} ${shortList(e.resources)} (${e.permissions.join(", ")})`)
    .join("; ");
}

/** The first few items of a list, then how many more. */
export function shortList(items: string[], max = 3): string {
  if (items.length <= max) {
    return items.join(", ");
  }
  return `${items.slice(0, max).join(", ")} +${items.length - max} more`;
}

/** An absolute local time, short when it is today (`14:05`), else `2026-11-24 14:05`. */
export function clockTime(at: Date, now: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const hm = `${two(at.getHours())}:${two(at.getMinutes())}`;
  if (at.toDateString() === now.toDateString()) {
    return hm;
  }
  return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())} ${hm}`;
}
