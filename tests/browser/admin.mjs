// A clinic admin's (or an operator's) pages in a real browser: each must render without console
// errors (a CSP violation would be one) and without critical or serious accessibility problems
// (axe-core: contrast, labels, roles), and gets a screenshot for the documentation.
//
//   node admin.mjs <base url> <email> <password> <screenshot dir> [name=/path,…]
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
async function axe(page) {
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource);
  const r = await page.evaluate(async () => window.axe.run(document));
  return r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious')
    .map(v => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).join(', ')})`);
}

const [base, email, password, shots, only] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update',
         '--no-first-run', '--disable-sync', '--host-resolver-rules=MAP * 127.0.0.1'],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(15000);
  page.on('pageerror', e => problems.push(`page error: ${e}`));
  page.on('console', m => {
    // A header Chromium does not understand (a Permissions-Policy feature it does not know)
    // is only a warning, but it means the header is wrong.
    const bad = m.type() === 'error' || (m.type() === 'warning' && /Permissions-Policy|Unrecognized feature/.test(m.text()));
    if (bad && !m.text().includes('Cross-Origin-Opener-Policy header has been ignored')) {
      problems.push(`${page.url()}: ${m.text()}`);
    }
  });
  await page.goto(`${base}/login`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
  const pages = only ? only.split(',').map(p => p.split('=')) : [
    ['settings-users', '/settings/users'],
    ['settings-audit', '/settings/audit'],
    ['settings-roles', '/settings/roles'],
    ['settings-hours', '/settings/hours'],
    ['settings-templates', '/settings/templates'],
    ['settings-types', '/settings/appointment-types'],
    ['schedule-day', '/schedule/day'],
    ['account-mfa', '/account/mfa'],
  ];
  for (const [name, path] of pages) {
    const r = await page.goto(`${base}${path}`);
    if (r.status() !== 200) throw new Error(`${path}: HTTP ${r.status()}`);
    await page.screenshot({ path: `${shots}/${name}.png` });
    for (const v of await axe(page)) problems.push(`${path}: ${v}`);
    // axe leaves text the colour of its own background undecided ("incomplete"), so a button
    // painted red on red passes it: look for that here.
    const unreadable = await page.evaluate(() => [...document.querySelectorAll('button, .button')]
      .filter(b => b.offsetParent !== null && b.textContent.trim() !== '')
      .filter(b => { const s = getComputedStyle(b); return s.color === s.backgroundColor; })
      .map(b => b.id || b.textContent.trim()));
    for (const b of unreadable) problems.push(`${path}: button "${b}" has text the colour of its background`);
  }
  if (process.env.ADD_HOST) {
    // A clinic's own domain, added on its console page: the DNS check shows at once.
    const [slug, host] = process.env.ADD_HOST.split('=');
    await page.goto(`${base}/clinics/${slug}`);
    await page.fill('#host', host);
    await Promise.all([page.waitForURL(/dns=/), page.click('#add-host')]);
    const dns = await page.getAttribute(`[data-host="${host}"] [data-dns]`, 'data-dns');
    if (dns !== 'here') problems.push(`${host}: DNS check says ${dns}`);
    for (const v of await axe(page)) problems.push(`/clinics/${slug}: ${v}`);
    await page.locator('#hosts').screenshot({ path: `${shots}/console-clinic-hosts.png` });
  }
  if (process.env.CHECK_COMPLIANCE) {
    // The console's compliance self-check: the audit chains, never checked, are red; one
    // click checks them and the item turns green.
    await page.goto(`${base}/compliance`);
    const level = () => page.getAttribute('[data-safeguard=audit_chains]', 'data-level');
    if (await level() !== 'failing') problems.push(`/compliance: audit_chains is ${await level()} before the check`);
    await page.screenshot({ path: `${shots}/console-compliance-before.png` });
    await Promise.all([page.waitForURL(/\/compliance/), page.click('#check-audit-chains')]);
    await page.waitForSelector('[data-safeguard=audit_chains][data-level=ok]');
    for (const v of await axe(page)) problems.push(`/compliance: ${v}`);
    await page.screenshot({ path: `${shots}/console-compliance.png`, fullPage: true });
    for (const [name, width] of [['console-compliance-phone', 390]]) {
      await page.setViewportSize({ width, height: 844 });
      await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 1) problems.push(`/compliance at ${width}px: ${overflow}px wider than the screen`);
    }
  }
  if (problems.length) throw new Error(problems.join('\n'));
  console.log('admin pages: ok');
} catch (e) {
  console.error(String(e.message || e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
