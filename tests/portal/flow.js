// The portal clicked through in real Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) against a real jitd, as tests/tests/e2e/portal.rs sets it up: a requester
// asks for write access, an approver approves it in their own portal, the requester sees
// Access Granted live, uses the access (Connect, Access Details once), revokes it and
// requests it again; a browser without the link's token is refused.
//
// Talks to the Rust test on stdout/stdin, one line each:
//   STEP <name>            progress, for the test's log
//   CREDS <json>           the revealed user and secret: the test logs in with psql (and,
//                          after a reset, checks the old secret no longer works), then
//                          answers "ok" (or "fail <why>") on stdin
//   REQUEST <id>           the request this run made
//   AGAIN <id>             the request Request Again made
//   COOKIE <value>         the requester's session cookie (the test tries it as another user)
//   DONE                   every check passed
// Any failed check throws: the script exits non-zero with the reason on stderr.
//
// Environment: REQUESTER_URL, APPROVER_URL (the links `jit portal` printed), DB (the
// database to ask for), INTEGRATION, ADMIN_MESSAGE, SHOTS (a directory for screenshots),
// CHROMIUM (default /usr/bin/chromium).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { chromium } = require('playwright-core');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const REQUESTER_URL = env('REQUESTER_URL');
const APPROVER_URL = env('APPROVER_URL');
const DB = env('DB');
const INTEGRATION = env('INTEGRATION');
const ADMIN_MESSAGE = env('ADMIN_MESSAGE');
const SHOTS = env('SHOTS');
const TIMEOUT = 15000;

const say = (line) => process.stdout.write(`${line}\n`);
const stdin = readline.createInterface({ input: process.stdin });
const answers = [];
const waiting = [];
stdin.on('line', (l) => (waiting.length ? waiting.shift()(l) : answers.push(l)));
const nextAnswer = () => new Promise((resolve) => (answers.length ? resolve(answers.shift()) : waiting.push(resolve)));

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function shot(page, name, fullPage) {
  // Times on the page are relative ("in 59m"); the screenshots are for the README.
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: Boolean(fullPage) });
  say(`STEP screenshot ${name}`);
}

/** The pages open, screenshot when a check fails (`failure-N.png` in SHOTS). */
const pages = [];

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // Root (the test runs as root) cannot use Chromium's sandbox.
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
  try {
    await run(browser);
  } catch (e) {
    for (const [i, p] of pages.entries()) {
      await p.screenshot({ path: path.join(SHOTS, `failure-${i}.png`) }).catch(() => {});
    }
    throw e;
  } finally {
    await browser.close();
  }
}

async function run(browser) {
  const viewport = { width: 1280, height: 800 };
  const base = new URL(REQUESTER_URL).origin;
  const token = new URL(REQUESTER_URL).searchParams.get('token');

  // --- The requester opens the link: the token becomes a cookie, and leaves the URL.
  const alice = await browser.newContext({ viewport });
  const a = await alice.newPage();
  pages.push(a);
  a.setDefaultTimeout(TIMEOUT);
  await a.goto(REQUESTER_URL);
  await a.getByRole('heading', { name: 'My Requests' }).waitFor();
  check(!a.url().includes('token'), `the token left the address bar (${a.url()})`);
  const cookies = await alice.cookies(base);
  const session = cookies.find((c) => c.name.startsWith('jit_portal_'));
  check(session && session.httpOnly && session.sameSite === 'Strict', `an HttpOnly SameSite=Strict cookie: ${JSON.stringify(cookies)}`);
  say(`COOKIE ${session.name}=${session.value}`);
  say('STEP signed in');

  // --- Another browser context, without the token (or with the spent one), gets nothing.
  const stranger = await browser.newContext({ viewport });
  const s = await stranger.newPage();
  let res = await s.goto(base + '/');
  check(res.status() === 401, `no cookie: the page is 401 (got ${res.status()})`);
  await s.getByRole('heading', { name: /not signed in/i }).waitFor();
  res = await s.goto(`${base}/?token=${token}`);
  check(res.status() === 403, `the spent token is refused with 403 (got ${res.status()})`);
  res = await stranger.request.get(`${base}/api/requests`);
  check(res.status() === 401, `no cookie: the API is 401 (got ${res.status()})`);
  res = await stranger.request.post(`${base}/api/requests`, { data: { integration: INTEGRATION } });
  check(res.status() === 401, `no cookie: a change is 401 (got ${res.status()})`);
  // The requester's own cookie without the CSRF token cannot change anything.
  res = await alice.request.post(`${base}/api/requests`, { data: { integration: INTEGRATION } });
  check(res.status() === 403, `cookie but no CSRF token: 403 (got ${res.status()})`);
  await stranger.close();
  say('STEP strangers refused');

  // --- New Request: errors next to the field, then integration → type → resources →
  // permissions → duration → justification → Submit.
  await a.getByRole('link', { name: 'New Request' }).first().click();
  await a.getByRole('heading', { name: 'New Request' }).waitFor();
  // The only integration and its only resource type are chosen already.
  check(await a.locator('#f-integration').inputValue() === INTEGRATION, 'the only integration is chosen');
  check(await a.locator('#f-type').inputValue() === 'database', `the only resource type is chosen: ${await a.locator('#f-type').evaluate((n) => n.outerHTML)}`);
  await a.getByRole('button', { name: 'Submit' }).click();
  await a.locator('#err-resources').filter({ hasText: 'Add at least one resource' }).waitFor();
  await a.locator('#err-permissions').filter({ hasText: 'Choose at least one permission' }).waitFor();
  await a.locator('#f-resources').fill(DB);
  await a.locator('#f-resources').press('Enter');
  await a.locator('.picker .chip', { hasText: DB }).waitFor();
  await a.getByRole('checkbox', { name: 'write' }).check();
  await a.locator('.summary', { hasText: 'Needs approval' }).waitFor();
  await a.locator('#f-duration').selectOption('1800');
  await a.locator('#f-justification').fill('INC-4313 fix a stuck order');
  await shot(a, 'new-request', true);
  await a.getByRole('button', { name: 'Submit' }).click();
  const pendingDialog = a.getByRole('dialog', { name: 'Pending Approval' });
  await pendingDialog.waitFor();
  const idText = await pendingDialog.textContent();
  const id = Number((idText.match(/Request #(\d+)/) || [])[1]);
  check(id > 0, `the pop-up names the request: ${idText}`);
  say(`REQUEST ${id}`);
  await pendingDialog.getByRole('link', { name: 'My Requests' }).click();
  const row = a.locator(`tr[data-id="${id}"]`);
  await row.locator('.badge', { hasText: 'Pending' }).waitFor();
  await shot(a, 'my-requests');
  say('STEP requested');

  // --- The approver, in their own portal, approves it.
  const carol = await browser.newContext({ viewport });
  const c = await carol.newPage();
  pages.push(c);
  c.setDefaultTimeout(TIMEOUT);
  await c.goto(APPROVER_URL);
  await c.getByRole('heading', { name: 'My Requests' }).waitFor();
  await c.getByRole('link', { name: /Approvals/ }).click();
  const card = c.locator(`article.approval[data-id="${id}"]`);
  await card.waitFor();
  check((await c.locator('#approvals-count').textContent()) === '1', 'one approval waits, in the menu');
  await card.getByLabel(/Reason/).fill('ok for today');
  await shot(c, 'approvals');
  await card.getByRole('button', { name: 'Approve' }).click();
  await card.waitFor({ state: 'detached' });
  await c.getByText('Nothing waits for your approval.').waitFor();
  say('STEP approved');

  // --- The requester sees Access Granted without reloading, with the admin's message.
  const granted = a.getByRole('dialog', { name: 'Access Granted' });
  await granted.waitFor();
  await granted.getByText(ADMIN_MESSAGE).waitFor();
  await shot(a, 'access-granted');
  await granted.getByRole('link', { name: 'Use Access' }).click();
  await a.getByRole('heading', { name: 'My Access' }).waitFor();
  const sessionCard = a.locator('section.session').filter({ hasText: `Request #${id}` });
  await sessionCard.waitFor();
  await shot(a, 'my-access');

  // Connect: the terminal command, with a copy button; the app URI without the secret.
  await sessionCard.getByRole('button', { name: 'Connect' }).click();
  const connect = a.getByRole('dialog', { name: `Connect: ${INTEGRATION}` });
  await connect.waitFor();
  const terminal = connect.locator('[data-kind="terminal"]');
  await terminal.locator('code', { hasText: `jit connect ${id}` }).waitFor();
  check(await terminal.getByRole('button', { name: 'Copy' }).count() === 1, 'the command has a copy button');
  await connect.locator('[data-kind="app"]').getByRole('button', { name: 'Open in App' }).click();
  const appUrl = await connect.locator('[data-kind="app"] code').textContent();
  check(appUrl.startsWith('postgres://') && appUrl.includes(DB), `the app URI: ${appUrl}`);
  await shot(a, 'connect');
  await connect.getByRole('button', { name: 'Close' }).last().click();
  say('STEP connect shown');

  // Access Details: a warning that it is shown once, then the credentials, once.
  await sessionCard.getByRole('button', { name: 'Access Details' }).click();
  const details = a.getByRole('dialog', { name: /Access Details/ });
  await details.getByText('Shown once.').waitFor();
  await details.getByRole('button', { name: 'Show credentials' }).click();
  const secret = (await details.locator('code.secret-value').textContent()).trim();
  const user = (await details.locator('dd .codebox code').first().textContent()).trim();
  check(secret.length >= 16 && user.length > 0, 'a user and a secret are shown');
  say(`CREDS ${JSON.stringify({ user, secret })}`);
  const verdict = await nextAnswer();
  check(verdict === 'ok', `psql with the revealed password: ${verdict}`);
  await shot(a, 'access-details');
  await details.getByRole('button', { name: 'Close' }).last().click();
  check(!(await a.content()).includes(secret), 'the secret left the page with the dialog');
  // Once: the session now says so, and asking again is refused.
  res = await a.evaluate(async (rid) => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const r = await fetch(`/api/requests/${rid}/reveal`, { method: 'POST', headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' }, body: '{}' });
    return { status: r.status, cache: r.headers.get('cache-control'), body: await r.json() };
  }, id);
  check(res.status === 409 && res.body.error.name === 'already_revealed', `a second reveal is refused: ${JSON.stringify(res)}`);
  check(res.cache === 'no-store', 'answers are not cached');
  say('STEP revealed once');

  // Reset Credentials makes new ones (the old ones stop working), shown once again.
  await sessionCard.getByRole('button', { name: 'Reset Credentials' }).click();
  const reset = a.getByRole('dialog', { name: 'Reset Credentials?' });
  await reset.getByRole('button', { name: 'Reset Credentials' }).click();
  await a.getByText(`New credentials for request #${id}`).waitFor();
  await sessionCard.getByRole('button', { name: 'Access Details' }).click();
  const details2 = a.getByRole('dialog', { name: /Access Details/ });
  await details2.getByRole('button', { name: 'Show credentials' }).click();
  const secret2 = (await details2.locator('code.secret-value').textContent()).trim();
  check(secret2 !== secret, 'the reset made a new secret');
  say(`CREDS ${JSON.stringify({ user, secret: secret2 })}`);
  const verdict2 = await nextAnswer();
  check(verdict2 === 'ok', `psql after the reset: ${verdict2}`);
  await details2.getByRole('button', { name: 'Close' }).last().click();
  say('STEP credentials reset');

  // Request details: bundle name, justification, approvers, resources and permissions.
  await a.getByRole('link', { name: 'My Requests' }).click();
  await a.locator(`tr[data-id="${id}"]`).click();
  const panel = a.getByRole('dialog', { name: `Access Request #${id}` });
  await panel.waitFor();
  for (const text of ['Bundle name', 'Justification', 'INC-4313 fix a stuck order', 'Approver(s)', 'ok for today', 'Requested resources and permissions', 'Access details']) {
    await panel.getByText(text, { exact: false }).first().waitFor();
  }
  await shot(a, 'request-details');

  // Revoke, from the details panel; it moves to Closed as Revoked, live.
  await panel.getByRole('button', { name: 'Revoke' }).click();
  const revoke = a.getByRole('dialog', { name: `Revoke request #${id}?` });
  await revoke.getByLabel(/Reason/).fill('done');
  await revoke.getByRole('button', { name: 'Revoke' }).click();
  await a.locator(`tr[data-id="${id}"]`).waitFor({ state: 'detached' });
  await a.getByRole('tab', { name: /Closed Requests/ }).click();
  await a.locator(`tr[data-id="${id}"] .badge`, { hasText: 'Revoked' }).waitFor();
  await shot(a, 'closed-requests');
  say('STEP revoked');

  // Request Again asks for a new justification; the new request appears under Open.
  await a.locator(`tr[data-id="${id}"]`).getByRole('button', { name: 'Request Again' }).click();
  const again = a.getByRole('dialog', { name: `Request again: #${id}` });
  await again.getByRole('button', { name: 'Submit' }).click();
  await again.getByText('Write a justification.').waitFor();
  await again.getByLabel(/Justification/).fill('INC-4320 once more');
  await again.getByRole('button', { name: 'Submit' }).click();
  const pendingAgain = a.getByRole('dialog', { name: 'Pending Approval' });
  await pendingAgain.waitFor();
  const againId = Number(((await pendingAgain.textContent()).match(/Request #(\d+)/) || [])[1]);
  check(againId > id, `Request Again made a new request (${againId})`);
  await pendingAgain.getByRole('link', { name: 'My Requests' }).click();
  await a.getByRole('tab', { name: /Open Requests/, selected: true }).waitFor();
  await a.locator(`tr[data-id="${againId}"] .badge`, { hasText: 'Pending' }).waitFor();
  say(`AGAIN ${againId}`);

  // Keyboard: from the skip link at the top, Tab walks the menu and Enter follows a link.
  await a.locator('a.skip').focus();
  for (let i = 0; i < 3; i++) await a.keyboard.press('Tab');
  const focused = await a.evaluate(() => document.activeElement && document.activeElement.textContent.trim());
  check(focused === 'My Access', `Tab reaches the menu (${focused})`);
  await a.keyboard.press('Enter');
  await a.getByRole('heading', { name: 'My Access' }).waitFor();
  await a.getByRole('link', { name: 'My Requests' }).click();

  // Readable at 200% zoom: the menu folds above the page and nothing scrolls sideways.
  await a.setViewportSize({ width: 640, height: 800 });
  await a.getByRole('heading', { name: 'My Requests' }).waitFor();
  const overflow = await a.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no sideways scrolling at 200% zoom (${overflow}px)`);
  await shot(a, 'my-requests-200-percent');
  say('DONE');
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
