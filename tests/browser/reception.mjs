// Reception's everyday flow in a real browser: search for a new patient, register them from
// the search results, book the first free time, and check them in from the today list.
//
//   node reception.mjs <base url> <email> <password> <screenshot dir>
//
// Exits non-zero (with the failing step) when any step does not behave.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// axe-core (from npm) checks what is on screen; critical and serious findings fail the test.
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
async function axe(page, include) {
  // Through the DevTools protocol: the page's CSP (script-src 'self') stays in force.
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource);
  const r = await page.evaluate(async (inc) => window.axe.run(inc ? { include: [inc] } : document), include);
  return r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious')
    .map(v => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).join(', ')})`);
}

const [base, email, password, shots] = process.argv.slice(2);
if (!base || !email || !password || !shots) {
  console.error('usage: node reception.mjs <base url> <email> <password> <screenshot dir>');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update',
         '--no-first-run', '--disable-sync', '--host-resolver-rules=MAP * 127.0.0.1'],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('pageerror', e => problems.push(`page error: ${e}`));
  // Over plain HTTP (tests run without TLS) Chromium ignores Cross-Origin-Opener-Policy and
  // says so; every other console error (a CSP violation, a failed request) fails the test.
  page.on('console', m => {
    // A header Chromium does not understand (a Permissions-Policy feature it does not know)
    // is only a warning, but it means the header is wrong.
    const bad = m.type() === 'error' || (m.type() === 'warning' && /Permissions-Policy|Unrecognized feature/.test(m.text()));
    if (bad && !m.text().includes('Cross-Origin-Opener-Policy header has been ignored')) {
      problems.push(`console: ${m.text()}`);
    }
  });
  page.setDefaultTimeout(15000);
  const step = async (name, fn) => {
    try { await fn(); } catch (e) {
      await page.screenshot({ path: `${shots}/failed-${name}.png`, fullPage: true }).catch(() => {});
      throw new Error(`step "${name}" failed: ${e.message}`);
    }
  };

  await step('sign in', async () => {
    await page.goto(`${base}/login`);
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/`);
  });

  await step('search', async () => {
    await page.click('#global-search');
    await page.keyboard.type('Aarav Karki', { delay: 20 });
    await page.waitForSelector('#search-results .search-empty');
    await page.screenshot({ path: `${shots}/search-not-found.png` });
    // The "Register a patient" link can be seen: not white on the white dropdown.
    const colour = await page.$eval('#search-results .search-empty a', a => getComputedStyle(a).color);
    if (/rgb\(255, 255, 255\)/.test(colour)) throw new Error(`the register link is white (${colour})`);
    const found = await axe(page, '.topbar');
    if (found.length) throw new Error(`accessibility of the open search:\n${found.join('\n')}`);
  });

  await step('register', async () => {
    await page.click('#search-results .search-empty a');
    await page.waitForURL(/\/patients\/new/);
    if (await page.inputValue('#given_name') !== 'Aarav' || await page.inputValue('#family_name') !== 'Karki') {
      throw new Error('the names were not carried over from the search');
    }
    await page.selectOption('#sex', 'male');
    await page.fill('#birth_date', '1988-04-12');
    await page.fill('#phone_number_1', '+977 985-111 2233');
    await page.fill('#allergy_substance_1', 'Penicillin');
    await page.selectOption('#allergy_severity_1', 'severe');
    await page.screenshot({ path: `${shots}/register.png`, fullPage: true });
    await page.click('#save-patient');
    await page.waitForURL(/\/patients\/\d+$/);
    const name = await page.textContent('#patient-name');
    if (name.trim() !== 'Aarav Karki') throw new Error(`chart shows ${name}`);
    await page.waitForSelector('#allergies');
    await page.screenshot({ path: `${shots}/chart.png` });
  });

  await step('book', async () => {
    await page.click('#find-times');
    await page.waitForURL(/\/appointments\/new/);
    await page.waitForSelector('#slots input[name=start]');
    await page.check('#slots input[name=start] >> nth=0');
    await page.fill('#reason', 'Fever since two days');
    await page.screenshot({ path: `${shots}/book.png`, fullPage: true });
    await page.click('#book');
    await page.waitForURL(/\/appointments\/\d+$/);
    const status = await page.textContent('#appointment-status');
    if (status.trim() !== 'booked') throw new Error(`status ${status}`);
    // The slip as printed: letterhead with the clinic's name and the time printed, on A5
    // (148 mm ≈ 559 px) and on an 80 mm receipt printer (≈ 302 px).
    await page.emulateMedia({ media: 'print' });
    for (const [name, width] of [['a5', 559], ['80mm', 302]]) {
      await page.setViewportSize({ width, height: 700 });
      const head = await page.textContent('.letterhead');
      if (!head.includes('Clinic ALPHA') || !head.includes('Printed')) throw new Error(`letterhead: ${head}`);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      if (wide) throw new Error(`the ${name} slip is wider than the paper`);
      await page.screenshot({ path: `${shots}/appointment-slip-${name}.png`, fullPage: true });
    }
    await page.emulateMedia({ media: 'screen' });
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  await step('check in', async () => {
    await page.click('.mainnav a[href="/today"]');
    await page.waitForURL(`${base}/today`);
    const row = page.locator('#today tr', { hasText: 'Aarav Karki' });
    await row.waitFor();
    await row.locator('button[data-action=arrived]').click();
    // htmx swaps the row in place: no page load.
    await page.locator('#today tr.status-arrived', { hasText: 'Aarav Karki' }).waitFor();
    const text = await page.locator('#today tr', { hasText: 'Aarav Karki' }).textContent();
    if (!/#\d+/.test(text)) throw new Error(`no queue number in "${text}"`);
    await page.locator('#queue li', { hasText: 'Aarav Karki' }).waitFor();
    await page.screenshot({ path: `${shots}/today-checked-in.png` });
  });

  await step('enter with several matches opens the list', async () => {
    await page.click('#global-search');
    await page.fill('#global-search', '');
    await page.keyboard.type('rossi', { delay: 20 });
    await page.waitForSelector('#search-results a.result:not(.all) >> nth=1');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/patients\?q=rossi/);
    const names = await page.locator('main').textContent();
    if (!names.includes('Rossi, Maria') || !names.includes('Rossi, Luca')) throw new Error('the list does not show both');
  });

  await step('enter with one match opens the patient', async () => {
    await page.click('#global-search');
    await page.fill('#global-search', '');
    await page.keyboard.type('karki', { delay: 20 });
    await page.waitForSelector('#search-results a.result:not(.all)');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/patients\/\d+$/);
  });

  await step('keyboard search', async () => {
    await page.click('#global-search');
    await page.fill('#global-search', '');
    await page.keyboard.type('karki', { delay: 20 });
    await page.waitForSelector('#search-results a.result');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/patients\/\d+$/);
  });

  if (problems.length) throw new Error(problems.join('\n'));
  console.log('reception flow: ok');
} catch (e) {
  console.error(String(e.message || e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
