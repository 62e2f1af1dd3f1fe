// dashboard-check.mjs -- drive Debian's chromium over herald-web's pages and report
// what a person would see, for tests/e2e/test_dashboard.py to check.
//
//   node tests/node/dashboard-check.mjs BASE_URL OUT_DIR < plan.json
//
// The plan (stdin, one JSON line): {"visits": [{"name", "path", "kind"}], "live": {...}}
// kind: board | release | trends | outcomes | job | error. For every visit it writes a
// full-page screenshot OUT_DIR/<name>.png and collects facts from the DOM. With "live"
// ({"path", "selector"}) it then opens that page, prints "LIVE-READY" and waits for a
// line on stdin (the test publishes new events meanwhile) and for `selector` to appear
// without a reload (the board polls). The last stdout line is the JSON report.
//
// The browser: executablePath /usr/bin/chromium (playwright-core downloads none),
// headless, a fresh profile (--user-data-dir) in a temporary directory; any request
// to somewhere other than BASE_URL is reported (there must be none).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir) {
  console.error('usage: dashboard-check.mjs BASE_URL OUT_DIR < plan.json');
  process.exit(2);
}
const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
const plan = JSON.parse((await lines.next()).value);
fs.mkdirSync(outDir, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-chromium-'));

const extract = {
  board: () => ({
    rows: [...document.querySelectorAll('tr.release')].map((tr) => ({
      service: tr.dataset.service,
      version: tr.dataset.version,
      status: tr.dataset.status,
      cells: [...tr.querySelectorAll('td.cell')].map((td) => ({
        stage: td.dataset.stage,
        state: td.dataset.state,
        text: td.innerText,
        color: getComputedStyle(td.querySelector('.st')).backgroundColor,
      })),
    })),
  }),
  release: () => ({
    title: document.querySelector('h1').innerText,
    nodes: [...document.querySelectorAll('svg.dag g.node')].map((g) => ({
      stage: g.dataset.stage,
      state: g.dataset.state,
      fill: g.querySelector('rect').getAttribute('fill'),
      box: (() => { const r = g.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })(),
    })),
    edges: [...document.querySelectorAll('svg.dag path.edge')].map((p) => ({
      from: p.dataset.from,
      to: p.dataset.to,
    })),
    timeline: document.querySelectorAll('svg.timeline rect').length,
    alerts: [...document.querySelectorAll('table.alerts tbody tr')].map((tr) => ({
      kind: tr.dataset.kind,
      slack: tr.querySelector('a[href*="/archives/"]')?.getAttribute('href') || null,
    })),
  }),
  trends: () => ({
    failing: [...document.querySelectorAll('#failing-jobs tbody tr')].map((tr) => ({
      job: tr.querySelector('td.job').innerText,
      cells: [...tr.querySelectorAll('td')].map((td) => td.innerText),
    })),
    flaky: [...document.querySelectorAll('#flaky-jobs tbody tr td.job')].map((td) => td.innerText),
    causes: [...document.querySelectorAll('#causes tbody tr')].map((tr) => tr.innerText),
    heatmap_cells: document.querySelectorAll('svg.heatmap rect').length,
  }),
  outcomes: () => {
    const m = document.querySelector('#mttd-pipeline-p50-ms');
    return {
      mttd_pipeline_p50_ms: m ? Number(m.dataset.ms) : null,
      totals: document.querySelector('#totals')?.innerText || '',
      plots: document.querySelectorAll('svg.lines').length,
      interventions: document.querySelector('#interventions')?.innerText || '',
    };
  },
  job: () => ({
    h1: document.querySelector('h1')?.textContent || '',
    scripts: [...document.querySelectorAll('script')].map((s) => s.textContent),
    runs: document.querySelectorAll('table.runs tbody tr').length,
    deck: document.querySelector('a.deck')?.getAttribute('href') || null,
  }),
  error: () => ({
    h1: document.querySelector('h1')?.innerText || '',
    text: document.body.innerText,
  }),
};

const report = { visits: {}, dialogs: [], console_errors: [], requests_elsewhere: [] };
// A fresh profile (--user-data-dir, which playwright passes for a persistent context).
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = context.pages()[0] || await context.newPage();
  page.on('dialog', async (d) => { report.dialogs.push(d.message()); await d.dismiss(); });
  page.on('console', (msg) => { if (msg.type() === 'error') report.console_errors.push(msg.text()); });
  page.on('request', (req) => { if (!req.url().startsWith(base)) report.requests_elsewhere.push(req.url()); });
  for (const v of plan.visits) {
    const resp = await page.goto(base + v.path, { waitUntil: 'load' });
    const facts = await page.evaluate(extract[v.kind]);
    facts.status = resp.status();
    facts.title = await page.title();
    await page.screenshot({ path: path.join(outDir, `${v.name}.png`), fullPage: true });
    report.visits[v.name] = facts;
  }
  if (plan.live) {
    await page.goto(base + plan.live.path, { waitUntil: 'load' });
    await page.evaluate(() => { window.heraldMark = 42; });
    console.log('LIVE-READY');
    await lines.next();
    const t0 = Date.now();
    await page.waitForSelector(plan.live.selector, { timeout: 30000 });
    report.live = {
      seconds: (Date.now() - t0) / 1000,
      reloaded: !(await page.evaluate(() => window.heraldMark === 42)),
      appeared: true,
    };
    await page.screenshot({ path: path.join(outDir, 'board-live.png'), fullPage: true });
  }
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(report));
process.exit(0);
