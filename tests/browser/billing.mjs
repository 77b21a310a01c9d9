// Billing in a real browser: the doctor signs the visit; the cashier opens a shift, bills the
// visit from the desk, adds an X-ray, issues the invoice, takes part in cash and the rest by
// mobile wallet, prints the 80 mm receipt and the A4 invoice, closes the shift by counting
// the drawer, the day report shows what was taken, and closing the day freezes it.
//
//   node billing.mjs <base url> <doctor email:password> <billing email:password> <visit id> <screenshot dir>
//
// Exits non-zero (with the failing step) when any step does not behave.
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

const [base, doctorCred, billingCred, visit, shots] = process.argv.slice(2);
if (!base || !doctorCred || !billingCred || !visit || !shots) {
  console.error('usage: node billing.mjs <base url> <doctor email:password> <billing email:password> <visit id> <screenshot dir>');
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
// Answers that are meant to fail: a wallet payment without its reference, a count that differs.
const expected = [/^POST .*\/invoices\/\d+\/payments$/, /^POST .*\/shifts\/\d+\/close$/];
async function open(width, height) {
  const ctx = await browser.newContext({ viewport: { width, height } });
  const page = await ctx.newPage();
  page.on('pageerror', e => problems.push(`page error: ${e}`));
  page.on('console', m => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')
        && !m.text().includes('Cross-Origin-Opener-Policy header has been ignored')) problems.push(`console: ${m.text()}`);
  });
  page.on('response', r => {
    if (r.status() >= 400 && !expected.some(e => e.test(`${r.request().method()} ${r.url()}`))) problems.push(`${r.status()} for ${r.request().method()} ${r.url()}`);
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
const money = (s) => Number(s.replace(/Rs\./g, '').replace(/[^0-9.]/g, ''));
const noOverflow = async (page, what) => {
  const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  if (sw > cw + 1) throw new Error(`${what} is wider than the screen (${sw} > ${cw})`);
};

try {
  const doc = current = await open(1280, 900);
  await step('the doctor signs the visit', async () => {
    await signIn(doc, doctorCred);
    await doc.goto(`${base}/visits/${visit}`);
    await doc.fill('#f-complaint', 'Cough for a week');
    await doc.fill('#f-plan', 'Chest X-ray. Steam inhalation.');
    await doc.click('#sign-visit');
    await doc.waitForSelector('#visit-status.status-completed');
  });

  const desk = current = await open(820, 1180);
  await step('the cashier opens a shift', async () => {
    await signIn(desk, billingCred);
    await desk.goto(`${base}/billing`);
    await desk.fill('#float', '2,000');
    await desk.click('#open-shift-button');
    await desk.waitForSelector('#my-shift');
  });
  await step('the desk lists the visit and bills it', async () => {
    const bill = desk.locator(`form[action="/visits/${visit}/invoice"] button`);
    await bill.waitFor();
    await noAxe(desk, 'the billing desk');
    await desk.screenshot({ path: `${shots}/billing-desk.png`, fullPage: true });
    await bill.click();
    await desk.waitForURL(/\/invoices\/\d+$/);
    const lines = await desk.textContent('#invoice-lines tbody');
    if (!/Consultation/.test(lines)) throw new Error(`the visit's service is not on the draft: ${lines}`);
  });
  let invoiceUrl;
  await step('an X-ray is added and the invoice issued', async () => {
    const xray = await desk.$eval('#service_id', s => [...s.options].find(o => /X-ray/.test(o.text)).value);
    await desk.selectOption('#service_id', xray);
    await desk.click('#add-line-button');
    await desk.waitForSelector('#invoice-lines tbody tr:nth-child(2)');
    await noAxe(desk, 'a draft invoice');
    await desk.screenshot({ path: `${shots}/billing-draft.png`, fullPage: true });
    await desk.click('#issue');
    await desk.waitForSelector('#print-links');
    invoiceUrl = desk.url();
    const no = await desk.textContent('#invoice-number');
    if (!/^INV-\d{4}\/\d{2}-00001$/.test(no.trim())) throw new Error(`invoice number ${no}`);
    // 500 + 1200 × 1.13 = 1856.00
    const total = money(await desk.textContent('#invoice-total'));
    if (total !== 1856) throw new Error(`total ${total}`);
  });
  await step('part in cash, the rest by wallet', async () => {
    await desk.selectOption('#method', 'cash');
    await desk.fill('#amount', '1000');
    await desk.click('#take-payment');
    await desk.waitForSelector('#invoice-state.bill-partly_paid');
    if (money(await desk.textContent('#invoice-due')) !== 856) throw new Error('due after the cash part');
    // The amount starts at what is due.
    if (money(await desk.inputValue('#amount')) !== 856) throw new Error('the amount is not what is due');
    await desk.selectOption('#method', 'wallet');
    await desk.click('#take-payment');
    await desk.waitForSelector('#e-reference');
    await desk.fill('#reference', 'ESW-20261202-77');
    await desk.click('#take-payment');
    await desk.waitForSelector('#invoice-state.bill-paid');
    await noAxe(desk, 'a paid invoice');
    await desk.screenshot({ path: `${shots}/billing-invoice-paid.png`, fullPage: true });
  });
  await step('the 80 mm receipt and the A4 invoice print', async () => {
    await desk.click('#payment-list tbody tr:last-child a');
    await desk.waitForURL(/\/payments\/\d+$/);
    await noAxe(desk, 'a receipt');
    await desk.click('#print-thermal');
    await desk.waitForSelector('#bill.paper-thermal');
    const words = await desk.textContent('#bill-words');
    if (!words.includes('Eight Hundred Fifty-Six Only')) throw new Error(`in words: ${words}`);
    await desk.setViewportSize({ width: 360, height: 900 });
    await desk.locator('#bill').screenshot({ path: `${shots}/billing-receipt-thermal.png` });
    await desk.setViewportSize({ width: 820, height: 1180 });
    await desk.goto(`${invoiceUrl}/print?paper=a4`);
    await desk.waitForSelector('#bill.paper-a4');
    await desk.locator('#bill').screenshot({ path: `${shots}/billing-invoice-a4.png` });
    await desk.goto(`${invoiceUrl}/print?paper=a4`);
    await desk.waitForSelector('#copy-of-original');
    await desk.goto(`${invoiceUrl}/print?paper=a5`);
    await desk.locator('#bill').screenshot({ path: `${shots}/billing-invoice-a5.png` });
  });
  await step('the invoice on a phone', async () => {
    const phone = current = await open(390, 844);
    await signIn(phone, billingCred);
    await phone.goto(invoiceUrl);
    await noOverflow(phone, 'the invoice page');
    await phone.screenshot({ path: `${shots}/billing-invoice-phone.png`, fullPage: true });
    await phone.goto(`${base}/billing`);
    await noOverflow(phone, 'the billing desk');
    current = desk;
  });
  await step('the cashier closes the shift by counting the drawer', async () => {
    await desk.goto(`${base}/billing`);
    await desk.click('#my-shift a');
    await desk.waitForURL(/\/shifts\/\d+$/);
    // Float 2,000 + cash 1,000 = 3,000: two 1000s, one 500, five 100s.
    if (money(await desk.textContent('#expected-cash')) !== 3000) throw new Error('expected cash');
    await desk.fill('#n1000', '2');
    await desk.fill('#n500', '1');
    await desk.fill('#n100', '4');
    await desk.click('#close-shift-button');
    await desk.waitForSelector('#e-cnote');
    if (await desk.inputValue('#n100') !== '4') throw new Error('the count typed was lost');
    await desk.fill('#n100', '5');
    await desk.click('#close-shift-button');
    await desk.waitForSelector('#variance');
    if (money(await desk.textContent('#variance')) !== 0) throw new Error('variance');
    await noAxe(desk, 'a closed shift');
    await desk.screenshot({ path: `${shots}/billing-shift-closed.png`, fullPage: true });
  });
  await step('the day report matches', async () => {
    await desk.goto(`${base}/billing/day`);
    const cash = money(await desk.textContent('#by-method [data-method=cash]'));
    const wallet = money(await desk.textContent('#by-method [data-method=wallet]'));
    const total = money(await desk.textContent('#day-total'));
    if (cash !== 1000 || wallet !== 856 || total !== 1856) throw new Error(`day report: ${cash} ${wallet} ${total}`);
    await noAxe(desk, 'the day report');
    await desk.screenshot({ path: `${shots}/billing-day-report.png`, fullPage: true });
  });
  await step('nobody owes: the outstanding balances list says so', async () => {
    await desk.goto(`${base}/billing`);
    await desk.click('#outstanding-link');
    await desk.waitForSelector('#nobody-owes');
    await noAxe(desk, 'the outstanding balances');
  });
  await step('closing the day freezes the totals', async () => {
    await desk.goto(`${base}/billing/day`);
    await desk.fill('#day-note', 'Counted and banked');
    await desk.click('#close-day-button');
    await desk.waitForSelector('#day-closed');
    if (await desk.locator('#close-day-button').count()) throw new Error('a closed day offers to close again');
    const total = money(await desk.textContent('#day-total'));
    if (total !== 1856) throw new Error(`closed day total ${total}`);
    await noAxe(desk, 'the closed day');
    await desk.screenshot({ path: `${shots}/billing-day-closed.png`, fullPage: true });
  });
  if (problems.length) throw new Error(`problems in the browser:\n${problems.join('\n')}`);
  console.log('billing flow: ok');
} catch (e) {
  console.error(e.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}
