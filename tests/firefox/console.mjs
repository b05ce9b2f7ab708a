// The web console in Debian's firefox-esr, driven over WebDriver BiDi by puppeteer-core
// (no geckodriver, no browser download). Run by tests/py/test_console_firefox.py, which
// starts the servers and fills them (tests/py/console_world.py), then passes:
//
//   node console.mjs '{"url": "http://127.0.0.1:PORT", "authUrl": "http://127.0.0.1:PORT2",
//                      "releaseUrl": "http://127.0.0.1:HOOK/release", "firefox": "/usr/bin/firefox-esr",
//                      "shots": "/optional/dir/for/screenshots"}'
//
// Every check runs even when an earlier one failed. Each prints `PASS name (ms)` or
// `FAIL name: what was expected` followed by what the page showed (`seen`, a string or a
// function giving one, read only on failure); the last line is
// `RESULTS {json}` (name -> null or the failure). Exit status 1 when any check failed.
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const cfg = JSON.parse(process.argv[2] || '{}');
const C = '/_sagestack/console';
const BASE = cfg.url + C;

class CheckFailed extends Error {
  constructor(message, seen) {
    super(message);
    this.seen = seen;
  }
}

// `seen`: what was found instead, or a function that reads it from the page.
function expect(cond, message, seen) {
  if (!cond) throw new CheckFailed(message, seen);
}

function same(actual, expected, message) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  expect(a === e, `${message}: expected ${e}`, `got ${a}`);
}

// Reads a failure's `seen` now: for checks whose pages close before the report.
async function settle(e) {
  if (e instanceof CheckFailed && typeof e.seen === 'function') e.seen = await e.seen();
  return e;
}

async function waitFor(page, fn, what, timeout = 10000, ...args) {
  try {
    await page.waitForFunction(fn, { timeout, polling: 100 }, ...args);
  } catch (e) {
    throw new CheckFailed(`timed out waiting for ${what}`, () => describe(page));
  }
}

// What the page shows, for failure messages: its URL, title and the start of <main>.
async function describe(page) {
  try {
    const { url, title, text } = await page.evaluate(() => ({
      url: location.href,
      title: document.title,
      text: (document.getElementById('main') || document.body || document.documentElement).innerText,
    }));
    return `at ${url} (title "${title}"):\n${text.slice(0, 1500)}`;
  } catch (e) {
    return `(the page could not be read: ${e.message})`;
  }
}

async function go(page, url) {
  const resp = await page.goto(url, { waitUntil: 'load' });
  expect(resp && resp.ok(), `GET ${url} answered ${resp && resp.status()}`, () => describe(page));
  return resp;
}

async function clickAndWait(page, selector) {
  const el = await page.$(selector);
  expect(el, `no element matches ${selector}`, () => describe(page));
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), el.click()]);
}

const textOf = (page, selector) =>
  page.$eval(selector, (e) => e.textContent.trim()).catch(() => null);

async function shot(page, name) {
  if (!cfg.shots) return;
  fs.mkdirSync(cfg.shots, { recursive: true });
  await page.screenshot({ path: path.join(cfg.shots, `${name}.png`), fullPage: true });
}

// Elements wider than the viewport that make the document scroll sideways.
async function overflow(page) {
  return page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const sw = document.documentElement.scrollWidth;
    const culprits = [];
    if (sw > vw) {
      for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.right > vw + 1 && culprits.length < 8) {
          // Only the outermost offender of each subtree (skip descendants of one listed).
          if (culprits.some((c) => c.el.contains(el))) continue;
          culprits.push({ el, desc: `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''} right=${Math.round(r.right)}` });
        }
      }
    }
    return { vw, sw, culprits: culprits.map((c) => c.desc) };
  });
}

const checks = [];
const check = (name, fn) => checks.push({ name, fn });

check('projects_list_shows_projects_and_badges', async (page) => {
  await go(page, BASE + '/');
  const title = await page.title();
  expect(title.startsWith('Projects'), `title starts with "Projects"`, `title "${title}"`);
  const auth = await textOf(page, '#auth-mode');
  expect(auth && auth.includes('auth: none'), '#auth-mode says "auth: none"', `#auth-mode: ${auth}`);
  const rows = await page.$$eval('#projects tbody tr[data-name]', (rs) =>
    Object.fromEntries(rs.map((r) => {
      const b = r.querySelector('.badge');
      return [r.dataset.name, b && [b.textContent.trim(), getComputedStyle(b).backgroundColor]];
    })));
  const statuses = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, v && v[0]]));
  const sorted = (o) => Object.fromEntries(Object.entries(o).sort());
  // `held` is held in CreateInProgress by its custom resource until the live check.
  same(sorted(statuses), { failing: 'CreateFailed', held: 'CreateInProgress', invalid: 'CreateFailed',
    'mlops-ok': 'CreateCompleted' }, 'the projects and their status badges');
  // The stylesheet applies: badges are coloured by what the status means.
  same([rows['mlops-ok'][1], rows.failing[1], rows.held[1]], ['rgb(26, 127, 55)', 'rgb(198, 40, 40)', 'rgb(154, 103, 0)'],
    'badge colours (ok green, failed red, running amber)');
  await shot(page, 'projects');
  // Filter by name with the form (typed, then Enter submits the GET form).
  await page.click('#filter-name', { clickCount: 3 });
  await page.type('#filter-name', 'inval');
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
  expect(page.url().includes('name=inval'), 'the filter form put name=inval in the URL', page.url());
  same(await page.$$eval('#projects tbody tr[data-name]', (rs) => rs.map((r) => r.dataset.name)), ['invalid'],
    'rows after filtering by "inval"');
  // Sort by name through the column header's link, ascending then descending.
  await go(page, BASE + '/projects');
  const sortBy = async () => {
    const link = await page.$$('xpath/.//a[starts-with(normalize-space(.), "Name")]');
    expect(link.length, 'a "Name" sort link', () => describe(page));
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), link[0].click()]);
    return page.$$eval('#projects tbody tr[data-name]', (rs) => rs.map((r) => r.dataset.name));
  };
  same(await sortBy(), ['failing', 'held', 'invalid', 'mlops-ok'], 'rows sorted by name, ascending');
  same(await sortBy(), ['mlops-ok', 'invalid', 'held', 'failing'], 'rows sorted by name, descending');
});

check('project_page_and_its_stack_with_resources', async (page) => {
  await go(page, BASE + '/projects/mlops-ok');
  same(await textOf(page, '#project-status'), 'CreateCompleted', '#project-status');
  const tags = await textOf(page, '#tags');
  expect(tags && tags.includes('team') && tags.includes('vision'), 'tag team=vision in #tags', `#tags: ${tags}`);
  const bars = await page.$$eval('svg#timeline g.bar', (bs) => bs.length);
  same(bars, 11, 'timeline bars on the project page');
  // The SVG is laid out at its size (not collapsed to 0 or stretched).
  const box = await page.$eval('svg#timeline', (s) => { const r = s.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; });
  expect(box[0] >= 1000 && box[1] > 200, 'the timeline SVG has its drawn size', `SVG box ${box}`);
  await shot(page, 'project');
  await clickAndWait(page, '#stack-link');
  expect(page.url().includes('/stack?'), 'the stack link leads to /stack?', page.url());
  const resources = await page.$$eval('#resources tbody tr', (rs) => rs.map((r) => [
    r.dataset.logicalId, (r.querySelector('.badge') || {}).textContent,
    (r.querySelector('a') || {}).textContent]));
  same(resources.length, 11, 'resource rows on the stack page');
  const notComplete = resources.filter((r) => r[1] !== 'CREATE_COMPLETE');
  same(notComplete, [], 'resources not CREATE_COMPLETE');
  const bucket = resources.find((r) => r[0] === 'ArtifactBucket');
  expect(bucket && bucket[2], 'ArtifactBucket links to its bucket', JSON.stringify(resources));
  await shot(page, 'stack');
  await clickAndWait(page, '#resources tbody tr[data-logical-id="ArtifactBucket"] a');
  expect(page.url().includes(`/s3/${bucket[2]}`), `the bucket link leads to /s3/${bucket[2]}`, page.url());
  same(await textOf(page, 'h1'), `Bucket ${bucket[2]}`, 'the bucket page heading');
});

check('timeline_shows_bars_and_the_failure', async (page) => {
  await go(page, BASE + '/projects/failing');
  same(await textOf(page, '#project-status'), 'CreateFailed', '#project-status');
  const res = await textOf(page, '#first-failure-resource');
  const reason = await textOf(page, '#first-failure-reason');
  expect(res && res.includes('Check'), 'the first failure is Check', `#first-failure-resource: ${res}`);
  expect(reason && reason.includes('refused: quota exceeded'), 'the failure reason',
    `#first-failure-reason: ${reason}`);
  const link = await page.$$('xpath/.//a[normalize-space(.)="timeline"]');
  expect(link.length, 'a "timeline" link', () => describe(page));
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), link[0].click()]);
  expect(page.url().includes('/stack/timeline'), 'the link leads to the timeline', page.url());
  const bars = await page.$$eval('svg#timeline g.bar', (bs) => bs.map((b) => {
    const rect = b.querySelector('rect');
    const r = rect.getBoundingClientRect();
    return {
      id: b.dataset.logicalId, op: b.dataset.operation, outcome: b.dataset.outcome,
      first: b.dataset.firstFailure, critical: b.dataset.critical, start: +b.dataset.start,
      w: r.width, h: r.height, fill: getComputedStyle(rect).fill, stroke: getComputedStyle(rect).stroke,
      title: (b.querySelector('title') || {}).textContent,
    };
  }));
  const seen = JSON.stringify(bars.map(({ id, op, outcome, first, critical }) => [id, op, outcome, first, critical]));
  const creates = bars.filter((b) => b.op === 'create');
  same(creates.map((b) => b.id), ['Bucket', 'Param', 'Check'], 'create bars in dependency order');
  const check_ = creates[2];
  same([check_.outcome, check_.first], ['failed', 'true'], 'the Check bar failed first');
  // The highlight as drawn: a red bar with the dark red first-failure outline, and the
  // reason as text under it.
  same([check_.fill, check_.stroke], ['rgb(207, 34, 46)', 'rgb(130, 7, 30)'], 'the failed bar fill and outline');
  expect(check_.title.includes('refused: quota exceeded'), 'the failed bar title has the reason', check_.title);
  const failureText = await page.$eval('svg#timeline text.first-failure', (t) => {
    const r = t.getBoundingClientRect();
    return [t.textContent, r.width > 0 && r.height > 0];
  }).catch(() => null);
  expect(failureText && failureText[0].includes('refused: quota exceeded') && failureText[1],
    'the first failure reason drawn in the SVG', JSON.stringify(failureText));
  const rollback = bars.filter((b) => b.op === 'rollback').map((b) => b.id);
  expect(rollback.indexOf('Param') >= 0 && rollback.indexOf('Param') < rollback.indexOf('Bucket'),
    'rollback deletes Param before Bucket', seen);
  const critical = bars.filter((b) => b.critical === 'true').map((b) => b.id);
  expect(critical.includes('Bucket') && critical.includes('Param'), 'Bucket and Param on the critical path', seen);
  const starts = bars.map((b) => b.start);
  same(starts, [...starts].sort((a, b) => a - b), 'bars in start order');
  const flat = bars.filter((b) => !(b.w >= 1.5 && b.h > 5));
  same(flat.map((b) => [b.id, b.op, b.w, b.h]), [], 'bars drawn with no visible size');
  const stats = await textOf(page, '#timeline-stats');
  expect(stats && stats.includes('ran at once'), '#timeline-stats says what ran at once', `#timeline-stats: ${stats}`);
  await shot(page, 'timeline-failed');
});

check('template_view_shows_the_error_line_and_column', async (page) => {
  await go(page, BASE + '/projects/invalid');
  same(await textOf(page, '#project-status'), 'CreateFailed', '#project-status');
  await clickAndWait(page, '#template-url');
  expect(page.url().includes('/template?key=invalid.yaml'), 'the template link', page.url());
  const locs = await page.$$eval('#template-errors a.loc', (as) => as.map((a) => [a.dataset.line, a.dataset.column, a.textContent]));
  const errors = await textOf(page, '#template-errors');
  same(locs, [['5', '3', '5:3'], ['6', '5', '6:5']], `error locations (#template-errors: ${errors})`);
  expect(errors.includes('must contain a Type member'), 'the missing Type error', errors);
  const l6 = await page.$eval('#L6', (l) => [l.className, l.textContent]);
  expect(l6[0].includes('err') && l6[1].includes('Typo') && l6[1].includes("6:5 Invalid template resource property 'Typo'"),
    'line 6 marked with its error', JSON.stringify(l6));
  // The source keeps its line numbers (list markers) and its indentation.
  const src = await page.$eval('#L6', (l) => [getComputedStyle(l).whiteSpace, getComputedStyle(l.parentElement).listStyleType]);
  same(src, ['pre', 'decimal'], 'source line white-space and numbering');
  // The location is a link to its line, which becomes the :target.
  const loc = await page.$$('#template-errors a.loc');
  await loc[1].click();
  await waitFor(page, () => location.hash === '#L6', 'the URL to end with #L6');
  const target = await page.evaluate(() => { const t = document.querySelector(':target'); return t && t.id; });
  same(target, 'L6', 'the :target line');
  await shot(page, 'template-error');
});

check('rolled_back_stack_change_set_and_masked_parameter', async (page) => {
  await go(page, BASE + '/stacks');
  const web = await page.$$('xpath/.//a[normalize-space(.)="web"]');
  expect(web.length, 'a link to stack "web"', () => describe(page));
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), web[0].click()]);
  same(await textOf(page, 'h1 .badge'), 'UPDATE_ROLLBACK_COMPLETE', 'the stack status badge');
  const reason = await textOf(page, '#first-failure-reason');
  expect(reason && reason.includes('refused: bad gate'), 'the failure reason', `#first-failure-reason: ${reason}`);
  const params = await textOf(page, '#parameters');
  const html = await page.content();
  expect(params.includes('****') && !html.includes('hunter2'), 'the NoEcho parameter masked', `#parameters: ${params}`);
  const cs = await page.$$('xpath/.//a[normalize-space(.)="to-v2"]');
  expect(cs.length, 'a link to change set "to-v2"', () => describe(page));
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), cs[0].click()]);
  const rows = await page.$$eval('#changes tbody tr', (rs) => Object.fromEntries(rs.map((r) => [r.dataset.logicalId, r.innerText])));
  same(Object.keys(rows).sort(), ['Gate', 'Store'], 'the change set rows');
  expect(rows.Store.includes('− v1') && rows.Store.includes('+ v2'), 'the Value diff', rows.Store);
});

check('s3_upload_of_a_template_is_validated', async (page) => {
  // A multipart POST with the CSRF token, as Firefox sends it (its Origin and
  // Sec-Fetch-* headers go through the server's cross-origin guard).
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'console-upload-')), 'uploaded.yaml');
  fs.writeFileSync(file, 'Resources:\n  Bucket:\n    Typo: AWS::S3::Bucket\n');
  await go(page, BASE + '/s3/console-templates');
  await page.type('#upload-key', 'up/firefox.yaml');
  const input = await page.$('#upload-file');
  await input.uploadFile(file);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form.upload button')]);
  expect(page.url().includes('uploaded='), 'the upload leads back to the bucket with uploaded=', () => describe(page));
  const main = await textOf(page, '#main');
  expect((main || '').includes('not valid: 2:3'), 'the uploaded template validated (not valid: 2:3, the missing Type)', () => describe(page));
  const objects = await textOf(page, '#objects');
  expect(objects && objects.includes('up/firefox.yaml'), 'the object listed', `#objects: ${objects}`);
});

check('keyboard_tab_reaches_links_and_enter_follows', async (page) => {
  await go(page, BASE + '/projects');
  const active = () => page.evaluate(() => {
    const a = document.activeElement;
    const r = a.getBoundingClientRect();
    const cs = getComputedStyle(a);
    return {
      tag: a.tagName.toLowerCase(), id: a.id, cls: a.className, text: (a.textContent || '').trim().slice(0, 40),
      href: a.getAttribute('href'), visible: r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.width > 0,
      outline: `${cs.outlineStyle} ${cs.outlineWidth}`,
    };
  });
  // The first Tab reaches the skip link, which shows itself; Enter moves to <main>.
  await page.keyboard.press('Tab');
  let a = await active();
  expect(a.cls === 'skip' && a.visible, 'the first Tab focuses the visible "Skip to content" link', JSON.stringify(a));
  expect(a.outline.startsWith('solid'), 'the focused link has a visible outline', JSON.stringify(a));
  await page.keyboard.press('Enter');
  await waitFor(page, () => location.hash === '#main' && document.activeElement.id === 'main',
    'Enter on the skip link to focus <main>');
  // Tab on from <main> until the project link; what was focused on the way is reported.
  const path_ = [];
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    a = await active();
    path_.push(`${a.tag}${a.id ? '#' + a.id : ''} "${a.text}"`);
    if (a.tag === 'a' && a.href && a.href.endsWith('/projects/mlops-ok')) break;
  }
  expect(a.href && a.href.endsWith('/projects/mlops-ok'), 'Tab reaches the link to project mlops-ok',
    `focused in turn: ${path_.join(', ')}`);
  expect(a.visible && a.outline.startsWith('solid'), 'the focused project link is visible with an outline', JSON.stringify(a));
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
  expect(page.url().endsWith('/projects/mlops-ok'), 'Enter follows the link', page.url());
  same(await textOf(page, '#project-status'), 'CreateCompleted', 'the project page after Enter');
});

check('live_update_of_a_running_project', async (page, browser) => {
  if (!cfg.releaseUrl) return;
  // The projects list is live too while `held` runs: a filter half typed into it, with
  // the focus still in the field, must survive its refresh.
  const list = await browser.newPage();
  try {
    await go(list, BASE + '/projects');
    expect(await list.$eval('body', (b) => b.hasAttribute('data-live')), 'the projects list is live while held runs',
      () => describe(list));
    await list.type('#filter-name', 'hel');
    await go(page, BASE + '/projects/held');
    const live = await page.$eval('body', (b) => b.getAttribute('data-live'));
    expect(live, 'body[data-live] on a running project', () => describe(page));
    same(await textOf(page, '#project-status'), 'CreateInProgress', '#project-status before the release');
    // A keyboard user is on the stack link when the refresh comes.
    await page.focus('#stack-link');
    await page.evaluate(() => { window.__sameDocument = true; });
    const r = await fetch(cfg.releaseUrl);
    expect(r.ok, 'the webhook released the held resource', `GET ${cfg.releaseUrl}: ${r.status}`);
    await waitFor(page, () => (document.getElementById('project-status') || {}).textContent === 'CreateCompleted',
      'the status to turn CreateCompleted in place', 30000);
    same(await page.evaluate(() => window.__sameDocument === true), true, 'the page updated without navigating');
    await waitFor(page, () => !document.body.hasAttribute('data-live'), 'polling to stop (data-live removed)');
    const note = await textOf(page, '#live-note');
    expect(note && note.includes('finished'), 'the live note says the operation finished', `#live-note: ${note}`);
    same(await page.evaluate(() => document.activeElement.id), 'stack-link', 'the focus after the refresh');
    await waitFor(list, () => {
      const b = document.querySelector('#projects tr[data-name="held"] .badge');
      return b && b.textContent === 'CreateCompleted';
    }, 'the projects list to show held CreateCompleted in place', 30000);
    same(await list.evaluate(() => [document.activeElement.id, document.getElementById('filter-name').value]),
      ['filter-name', 'hel'], 'the focused filter field and what was typed, after the refresh');
  } catch (e) {
    throw await settle(e);
  } finally {
    await list.close().catch(() => {});
  }
});

check('phone_width_has_no_horizontal_overflow', async (page) => {
  await page.setViewport({ width: 390, height: 844 });
  try {
    const pages = ['/projects', '/projects/mlops-ok', '/projects/failing', '/stack/timeline?name=web',
      '/stacks', '/stack?name=web', '/stack/template?name=web', '/s3', '/catalog', '/models', '/rules'];
    // The MLOps stack (long ARNs and template lines), found through its project's link.
    await go(page, BASE + '/projects/mlops-ok');
    const stack = await page.$eval('#stack-link', (a) => a.getAttribute('href')).catch(() => null);
    expect(stack, 'the MLOps project links to its stack', () => describe(page));
    const q = stack.slice(stack.indexOf('?'));
    pages.push(stack.slice(C.length), `/stack/timeline${q}`, `/stack/template${q}`);
    const bad = [];
    for (const p of pages) {
      await go(page, BASE + p);
      const o = await overflow(page);
      if (o.vw > 400) bad.push(`${p}: the viewport is ${o.vw} px wide, not 390`);
      else if (o.sw > o.vw) bad.push(`${p}: scrollWidth ${o.sw} > ${o.vw}; too wide: ${o.culprits.join(', ')}`);
      if (p === '/projects') {
        // The projects table turns into cards: no header row, labels from data-label.
        const thead = await page.$eval('#projects thead', (t) => getComputedStyle(t).display).catch(() => 'missing');
        if (thead !== 'none') bad.push(`/projects: the table header is display:${thead} at 390 px`);
        await shot(page, 'projects-phone');
      }
    }
    same(bad, [], 'pages at 390 px');
  } finally {
    await page.setViewport({ width: 1280, height: 900 });
  }
});

check('sigv4_sign_in_and_out', async (page, browser) => {
  if (!cfg.authUrl) return;
  const ctx = await browser.createBrowserContext();
  const p = await ctx.newPage();
  const A = cfg.authUrl + C;
  try {
    await p.goto(A + '/projects');
    expect(p.url().includes('/login'), 'signed out, /projects redirects to /login', p.url());
    await p.type('#access_key_id', 'AKIDALICE');
    await p.type('#secret_access_key', 'wrong');
    await Promise.all([p.waitForNavigation({ waitUntil: 'load' }), p.click('form button')]);
    const err = await textOf(p, '#login-error');
    expect(err && err.includes('not valid'), 'a wrong secret is refused', () => describe(p));
    await p.click('#access_key_id', { clickCount: 3 });
    await p.keyboard.press('Backspace');
    await p.type('#access_key_id', 'AKIDALICE');
    await p.click('#secret_access_key', { clickCount: 3 });
    await p.keyboard.press('Backspace');
    await p.type('#secret_access_key', 'alice-secret');
    // Submitted from the keyboard: Enter in the secret field.
    await Promise.all([p.waitForNavigation({ waitUntil: 'load' }), p.keyboard.press('Enter')]);
    expect(p.url().includes('/projects'), 'signed in, back to /projects', () => describe(p));
    same(await p.$$eval('#projects tbody tr[data-name]', (rs) => rs.map((r) => r.dataset.name)), ['alices'],
      "alice's projects only");
    expect((await p.content()).includes('Account 111111111111'), "alice's account in the header", () => describe(p));
    const cookie = (await p.cookies()).find((c) => c.name === 'sagestack_console');
    expect(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', 'an HttpOnly SameSite=Strict session cookie',
      JSON.stringify(cookie));
    await p.goto(A + '/projects/bobs');
    expect((await p.content()).includes('does not exist'), "bob's project is not alice's to see", () => describe(p));
    await Promise.all([p.waitForNavigation({ waitUntil: 'load' }), p.click('header form button')]);
    expect(p.url().includes('/login'), 'signing out leads to /login', p.url());
    await p.goto(A + '/projects');
    expect(p.url().includes('/login'), 'signed out, /projects redirects to /login again', p.url());
  } catch (e) {
    throw await settle(e);
  } finally {
    await ctx.close();
  }
});

const only = cfg.only ? new Set(cfg.only) : null;
const results = {};
let browser;
const t0 = Date.now();
try {
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: cfg.firefox || '/usr/bin/firefox-esr',
    headless: true,
    defaultViewport: { width: 1280, height: 900 },
    protocolTimeout: 60000,
    extraPrefsFirefox: {
      // Linux's default already, stated so a different build cannot make links skip Tab.
      'accessibility.tabfocus': 7,
    },
  });
  console.log(`launched ${await browser.version()} in ${Date.now() - t0} ms`);
  for (const { name, fn } of checks) {
    if (only && !only.has(name)) continue;
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(`script error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console error: ${m.text()}`); });
    // Every request a page makes succeeds, the icon included (the page names none, so the
    // browser must not fall back to /favicon.ico, which is not the console's).
    page.on('request', (r) => { if (r.url().endsWith('/favicon.ico')) errors.push(`requested ${r.url()}`); });
    page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} for ${r.url()}`); });
    const start = Date.now();
    try {
      await fn(page, browser);
      expect(errors.length === 0, 'no script or console errors, no failed requests', errors.join('\n'));
      results[name] = null;
      console.log(`PASS ${name} (${Date.now() - start} ms)`);
    } catch (e) {
      const seen = e instanceof CheckFailed ? (await settle(e)).seen : `${e.stack}\n${await describe(page)}`;
      results[name] = { expected: e.message, seen: String(seen), errors };
      console.log(`FAIL ${name}: ${e.message}\n  seen: ${String(seen).split('\n').join('\n        ')}`);
      if (errors.length) console.log(`  page errors: ${errors.join('\n    ')}`);
    } finally {
      await page.close().catch(() => {});
    }
  }
} catch (e) {
  results.launch = { expected: 'firefox-esr starts and answers WebDriver BiDi', seen: String(e.stack) };
  console.log(`FAIL launch: ${e.stack}`);
} finally {
  if (browser) await browser.close().catch(() => {});
}
console.log(`total ${Date.now() - t0} ms`);
console.log(`RESULTS ${JSON.stringify(results)}`);
process.exit(Object.values(results).some((r) => r) ? 1 : 0);
