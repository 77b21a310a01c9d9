// The consultation in a real browser: the nurse records vitals for a checked-in patient from
// "Waiting for vitals", the doctor starts the visit from "My queue", types the complaint
// (autosaved), finds the diagnosis by words, prescribes from a favourite, writes the plan,
// signs, prints the A5 prescription, and uploads a photo to the chart from a tablet.
//
//   node visit.mjs <base url> <nurse email:password> <doctor email:password> <screenshot dir>
//
// Exits non-zero (with the failing step) when any step does not behave.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
async function axe(page, include) {
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource);
  const r = await page.evaluate(async (inc) => window.axe.run(inc ? { include: [inc] } : document), include);
  return r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious')
    .map(v => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).join(', ')})`);
}

const [base, nurseCred, doctorCred, shots] = process.argv.slice(2);
if (!base || !nurseCred || !doctorCred || !shots) {
  console.error('usage: node visit.mjs <base url> <nurse email:password> <doctor email:password> <screenshot dir>');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const split = (c) => { const i = c.indexOf(':'); return [c.slice(0, i), c.slice(i + 1)]; };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update',
         '--no-first-run', '--disable-sync', '--host-resolver-rules=MAP * 127.0.0.1'],
});
const problems = [];
// Answers that are meant to fail: the vitals form refusing an implausible pulse.
const expected = [/^POST .*\/patients\/\d+\/vitals$/];
async function open(width, height) {
  const ctx = await browser.newContext({ viewport: { width, height } });
  const page = await ctx.newPage();
  page.on('pageerror', e => problems.push(`page error: ${e}`));
  page.on('console', m => {
    const bad = m.type() === 'error' || (m.type() === 'warning' && /Permissions-Policy|Unrecognized feature/.test(m.text()));
    // Failed requests are checked by URL below (a refused form answers 422 on purpose).
    if (bad && !m.text().includes('Cross-Origin-Opener-Policy header has been ignored')
        && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('response', r => {
    if (r.status() >= 400 && !expected.some(e => e.test(`${r.request().method()} ${r.url()}`))) {
      problems.push(`${r.status()} for ${r.request().method()} ${r.url()}`);
    }
  });
  page.on('dialog', d => d.accept());
  page.setDefaultTimeout(15000);
  return page;
}
async function signIn(page, cred) {
  const [email, password] = split(cred);
  await page.goto(`${base}/login`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
}
let current = null;
const step = async (name, fn) => {
  try { await fn(); } catch (e) {
    if (current) await current.screenshot({ path: `${shots}/failed-${name}.png`, fullPage: true }).catch(() => {});
    throw new Error(`step "${name}" failed: ${e.message}`);
  }
};
const noAxe = async (page, what) => {
  const found = await axe(page);
  if (found.length) throw new Error(`accessibility of ${what}:\n${found.join('\n')}`);
};

try {
  // The nurse, on a phone.
  const nurse = current = await open(390, 844);
  await step('nurse signs in', () => signIn(nurse, nurseCred));
  await step('waiting for vitals', async () => {
    await nurse.waitForSelector('#triage-queue a[data-triage]');
    await noAxe(nurse, 'the nurse home page');
    await nurse.screenshot({ path: `${shots}/home-nurse-phone.png`, fullPage: true });
    await nurse.click('#triage-queue a[data-triage]');
    await nurse.waitForURL(/\/vitals\?appointment=/);
  });
  await step('an implausible value is refused next to its field', async () => {
    await nurse.fill('#v-bp', '150/95');
    await nurse.fill('#v-pulse', '880');
    await nurse.click('#save-vitals');
    await nurse.waitForSelector('#e-pulse');
    if (await nurse.inputValue('#v-bp') !== '150/95') throw new Error('typed values were lost');
  });
  await step('record vitals', async () => {
    await nurse.fill('#v-pulse', '88');
    await nurse.fill('#v-temp', '37.2');
    await nurse.fill('#v-spo2', '97');
    await nurse.fill('#v-weight', '72');
    await nurse.fill('#v-height', '165');
    await noAxe(nurse, 'the triage form');
    await nurse.screenshot({ path: `${shots}/triage-phone.png`, fullPage: true });
    await nurse.click('#save-vitals');
    await nurse.waitForURL(`${base}/`);
    if (await nurse.$('#triage-queue')) throw new Error('the patient still waits for vitals');
  });

  // The doctor, at a desk.
  const doc = current = await open(1280, 900);
  await step('doctor signs in', async () => {
    await signIn(doc, doctorCred);
    // "Log out" in the header stays readable (a page style once painted it the header's colour).
    const [fg, bg] = await doc.evaluate(() => [
      getComputedStyle(document.querySelector('.mainnav button.link')).color,
      getComputedStyle(document.querySelector('.topbar')).backgroundColor]);
    if (fg === bg) throw new Error(`"Log out" is invisible: ${fg} on ${bg}`);
  });
  let visitUrl;
  await step('start from my queue', async () => {
    await doc.waitForSelector('#my-queue button[data-start]');
    await noAxe(doc, "the doctor's home page");
    await doc.screenshot({ path: `${shots}/home-doctor.png`, fullPage: true });
    await doc.click('#my-queue button[data-start]');
    await doc.waitForURL(/\/visits\/\d+$/);
    visitUrl = doc.url();
    const vitals = await doc.textContent('#triage');
    if (!vitals.includes('150/95 mmHg') || !vitals.includes('26.4 kg/m²')) throw new Error(`vitals: ${vitals}`);
  });
  await step('the complaint autosaves', async () => {
    await doc.fill('#f-complaint', 'Thirsty and tired for a month');
    await doc.fill('#f-history', 'Father has diabetes.');
    // A field of the clinic's default template is saved with the note.
    await doc.fill('#tf-cardiovascular_cvs', 'S1 S2 heard, no murmur');
    await doc.waitForFunction(() => (document.getElementById('autosave-status').textContent || '').trim() === 'Saved');
  });
  await step('diagnosis by words', async () => {
    await doc.click('#dx-q');
    await doc.keyboard.type('dia mel', { delay: 30 });
    await doc.waitForSelector('#code-results #code-list button.code-pick');
    const first = await doc.textContent('#code-results #code-list button.code-pick');
    if (!/diabetes mellitus/i.test(first)) throw new Error(`first code: ${first}`);
    await noAxe(doc, 'the visit screen with code results');
    await doc.screenshot({ path: `${shots}/visit-diagnosis-search.png`, fullPage: true });
    // Type 2 diabetes mellitus (E11), the second line.
    await doc.click('#code-results #code-list li:nth-child(2) button.code-pick');
    await doc.waitForSelector('#diagnoses li');
    const dx = await doc.textContent('#diagnoses');
    if (!/E1\d/.test(dx)) throw new Error(`diagnoses: ${dx}`);
    if (await doc.inputValue('#f-complaint') !== 'Thirsty and tired for a month') throw new Error('the complaint was lost');
  });
  await step('prescription from a favourite', async () => {
    await doc.selectOption('#rx-set', { index: 0 });
    await doc.click('#rx-apply');
    await doc.waitForSelector('#rx-items tbody tr');
    const rx = await doc.textContent('#rx-items');
    if (!/Metformin/.test(rx) || !/60/.test(rx)) throw new Error(`prescription: ${rx}`);
    if (await doc.inputValue('#f-complaint') !== 'Thirsty and tired for a month') throw new Error('the complaint was lost');
  });
  await step('plan and sign', async () => {
    await doc.fill('#f-examination', 'BMI 26. No foot ulcers.');
    await doc.fill('#f-plan', 'Metformin 500 mg twice daily after meals. Diet advice. HbA1c.');
    await doc.click('#sign-visit');
    await doc.waitForSelector('#visit-status.status-completed');
    const plan = await doc.textContent('#text-plan');
    if (!plan.includes('Metformin 500 mg')) throw new Error(`plan: ${plan}`);
    if (await doc.$('#visit-form')) throw new Error('a signed visit is still editable');
    const exam = await doc.textContent('#values-examination');
    if (!exam.includes('S1 S2 heard, no murmur')) throw new Error(`template fields: ${exam}`);
    await noAxe(doc, 'the signed visit');
    await doc.screenshot({ path: `${shots}/visit-signed.png`, fullPage: true });
  });
  await step('the A5 prescription prints', async () => {
    const href = await doc.$eval('#print-rx-a5', a => a.getAttribute('href'));
    const rx = await doc.context().newPage();
    await rx.setViewportSize({ width: 560, height: 794 });
    await rx.goto(`${base}${href}`);
    const text = await rx.textContent('body');
    if (!/Metformin/.test(text) || !/Sita Sharma/.test(text)) throw new Error(`print: ${text.slice(0, 400)}`);
    await rx.emulateMedia({ media: 'print' });
    await rx.screenshot({ path: `${shots}/prescription-a5.png`, fullPage: true });
    await rx.close();
  });
  await step('print view', async () => {
    await doc.emulateMedia({ media: 'print' });
    await doc.setViewportSize({ width: 794, height: 1123 });
    await doc.screenshot({ path: `${shots}/visit-print.png`, fullPage: true });
    await doc.emulateMedia({ media: 'screen' });
  });
  await step('tablet and phone widths', async () => {
    await doc.setViewportSize({ width: 820, height: 1180 });
    await doc.goto(visitUrl);
    await doc.screenshot({ path: `${shots}/visit-tablet.png`, fullPage: true });
    const wide = await doc.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 2);
    if (wide) throw new Error('the visit screen scrolls sideways at 820 px');
    await doc.setViewportSize({ width: 390, height: 844 });
    await doc.screenshot({ path: `${shots}/visit-phone.png`, fullPage: true });
    const wider = await doc.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 2);
    if (wider) throw new Error('the visit screen scrolls sideways at 390 px');
    const patient = await doc.$eval('#patient-name', a => a.getAttribute('href'));
    await doc.setViewportSize({ width: 1280, height: 900 });
    await doc.goto(`${base}${patient}`);
    await doc.waitForSelector('#trends svg.trend');
    await doc.screenshot({ path: `${shots}/chart-clinical.png`, fullPage: true });
  });
  await step('a photo from the tablet', async () => {
    await doc.setViewportSize({ width: 820, height: 1180 });
    await doc.goto(`${doc.url().split('#')[0]}#documents`);
    if (!(await doc.$eval('#documents details', d => d.open))) await doc.click('#documents summary');
    // The camera input (capture) as a tablet's camera fills it: a JPEG.
    const jpeg = await doc.evaluate(async () => {
      const c = document.createElement('canvas');
      c.width = 800; c.height = 600;
      const g = c.getContext('2d');
      g.fillStyle = '#d9a27f'; g.fillRect(0, 0, 800, 600);
      g.fillStyle = '#8a3b32'; g.beginPath(); g.ellipse(400, 300, 150, 80, 0, 0, 7); g.fill();
      const blob = await new Promise(r => c.toBlob(r, 'image/jpeg', 0.85));
      return Array.from(new Uint8Array(await blob.arrayBuffer()));
    });
    if (await doc.getAttribute('#doc-camera', 'capture') !== 'environment') throw new Error('no camera input');
    await doc.setInputFiles('#doc-camera', { name: 'photo.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(jpeg) });
    await doc.fill('#doc-title', 'Foot, left heel');
    await doc.selectOption('#doc-category', 'photo');
    await noAxe(doc, 'the chart with the upload form');
    await doc.click('#upload-document');
    await doc.waitForSelector('#document-list .doc-thumb img');
    const listed = await doc.textContent('#document-list');
    if (!listed.includes('Foot, left heel')) throw new Error(`documents: ${listed}`);
    const wide = await doc.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 2);
    if (wide) throw new Error('the chart scrolls sideways at 820 px');
    await doc.$eval('#documents', e => e.scrollIntoView());
    await doc.screenshot({ path: `${shots}/chart-documents-tablet.png` });
    // The upload on its own page, on a phone.
    await doc.setViewportSize({ width: 390, height: 844 });
    await doc.goto(`${doc.url().split('#')[0]}/documents/new`);
    await doc.waitForSelector('#doc-camera');
    await noAxe(doc, 'the upload page');
    const wider = await doc.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 2);
    if (wider) throw new Error('the upload page scrolls sideways at 390 px');
    await doc.screenshot({ path: `${shots}/document-upload-phone.png`, fullPage: true });
  });
  if (problems.length) throw new Error(`browser reported:\n${problems.join('\n')}`);
  console.log('consultation flow ok');
} catch (e) {
  console.error(e.message);
  if (problems.length) console.error(problems.join('\n'));
  await browser.close();
  process.exit(1);
}
await browser.close();
