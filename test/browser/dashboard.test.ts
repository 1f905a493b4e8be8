// The operator dashboard driven in a real browser (Debian's chromium through playwright-core), the
// way an operator uses it, on `smsgw start` (PostgreSQL, the two simulated carriers): sign in,
// create and credit a customer, send from the quickstart, watch the message reach `delivered`,
// open a carrier, search a message — at 1280×800 and on a phone, with an axe-core accessibility
// check of every view. Screenshots go to test-artifacts/screenshots/.
//
// Without /usr/bin/chromium the suite is skipped with that reason — except under CI=true, where it
// fails (.ci/run installs chromium).

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Browser, chromium, type Page } from 'playwright-core'
import { apiClient, type Gateway, startGateway } from '../helpers/gateway.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

const CHROMIUM = '/usr/bin/chromium'
const SHOTS = join(import.meta.dirname, '../../test-artifacts/screenshots')
const present = existsSync(CHROMIUM)
if (!present && process.env.CI === 'true')
  throw new Error(
    `${CHROMIUM} is missing and CI=true: the browser tests must run in CI (.ci/run installs it)`,
  )
const skip = present
  ? false
  : `${CHROMIUM} is not installed (apt-get install chromium); browser tests skipped`

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

interface AxeViolation {
  id: string
  impact: string | null
  help: string
  nodes: { target: unknown[] }[]
}

/** axe-core run in the page (evaluated over CDP, so the page's CSP does not refuse it). */
async function assertAccessible(page: Page, what: string): Promise<void> {
  await page.evaluate(AXE)
  const violations = (await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (o: object) => Promise<{ violations: unknown[] }> } })
      .axe
    return (await axe.run({ resultTypes: ['violations'] })).violations
  })) as AxeViolation[]
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`),
    [],
    `${what}: serious or critical accessibility violations`,
  )
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, name), fullPage: true })

describe('operator dashboard in chromium', { skip, timeout: 240_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-dashboard-'))
  const adminToken = `adm_${randomBytes(24).toString('base64url')}`
  let db: FreshDatabase
  let gw: Gateway
  let browser: Browser
  const pageErrors: string[] = []

  before(async () => {
    mkdirSync(SHOTS, { recursive: true })
    // `smsgw start` (every role, in-process bus, the two simulated carriers) on the real PostgreSQL:
    // a migrated copy starts in seconds where PGlite migrates in WASM.
    db = await freshDatabase()
    gw = await startGateway({ dataDir, adminToken, env: { LOG_LEVEL: 'info', DATABASE_URL: db.url } })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
  })
  after(async () => {
    await browser?.close()
    await gw?.stop()
    await db?.drop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  /** A page that records script errors and CSP refusals (either fails the test at the end). */
  async function openPage(viewport: { width: number; height: number }): Promise<Page> {
    const context = await browser.newContext({ viewport })
    const page = await context.newPage()
    page.on('dialog', (d) => void d.accept())
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`))
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of (401|404)/.test(m.text()))
        pageErrors.push(`console: ${m.text()}`)
    })
    return page
  }

  async function signIn(page: Page): Promise<void> {
    await page.goto(`${gw.url}/dashboard`)
    // By keyboard: the token field has the focus; typing and Enter submit the form.
    await page.getByLabel('Admin token').focus()
    await page.keyboard.type(adminToken)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
  }

  it('signs in, creates and credits a customer, follows a sent message to delivered, opens a carrier, searches', async () => {
    const api = apiClient(gw.url)
    const logBefore = gw.output().length
    // The quickstart's first step: rates.
    await api.ok('PUT', '/v1/admin/rates', adminToken, {
      currency: 'USD',
      default: '0.0100',
      countries: { US: '0.0079', GB: '0.0350' },
    })
    const page = await openPage({ width: 1280, height: 800 })

    // A wrong token is refused on the page; nothing else is shown.
    await page.goto(`${gw.url}/dashboard`)
    await shot(page, '01-login.png')
    await assertAccessible(page, 'login')
    await page.getByLabel('Admin token').fill('not-the-token')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor()

    await signIn(page)
    assert.ok(!page.url().includes(adminToken), 'the token never goes into the URL')

    // Create a customer: its API key is shown once.
    await page.getByRole('link', { name: 'Customers', exact: true }).click()
    await page.getByRole('heading', { name: 'Customers', exact: true }).waitFor()
    await page.getByLabel('Name', { exact: true }).fill('Acme Browser')
    await page.getByRole('button', { name: 'Create customer' }).click()
    const keyOut = page.locator('[data-api-key]')
    await keyOut.waitFor()
    const apiKey = (await keyOut.textContent())?.trim() ?? ''
    assert.match(apiKey, /^sk_/)
    await page.getByRole('cell', { name: 'Acme Browser' }).waitFor()
    await shot(page, '02-customer-created.png')
    await assertAccessible(page, 'customers')

    // Credit it.
    await page.locator('.secret').getByRole('link', { name: 'Acme Browser' }).click()
    await page.getByRole('heading', { name: 'Acme Browser' }).waitFor()
    await page.getByLabel('Amount').fill('10.00')
    await page.getByLabel('Reference').fill('browser-topup')
    await page.getByRole('button', { name: 'Add credit' }).click()
    await page.getByText(/Credited; balance 10\.0+ USD/).waitFor()
    await page.locator('[data-balance]', { hasText: /^10\.0+ USD$/ }).waitFor()
    await page.getByRole('cell', { name: 'browser-topup' }).waitFor()
    await shot(page, '03-customer-credited.png')
    await assertAccessible(page, 'customer')
    const customerId = (await page.locator('.facts dd code').first().textContent())?.trim() ?? ''
    // Suspend (after a confirmation) and reactivate; issue a second key (shown once).
    await page.getByRole('button', { name: 'Suspend' }).click()
    await page.locator('.facts [data-status="suspended"]').waitFor()
    await page.getByRole('button', { name: 'Reactivate' }).click()
    await page.locator('.facts [data-status="active"]').waitFor()
    await page.getByRole('button', { name: 'Issue a new key' }).click()
    await page.locator('.secret output').waitFor()
    await page
      .getByRole('table', { name: 'API keys' })
      .getByRole('button', { name: 'Revoke' })
      .nth(1)
      .waitFor()

    // Send from the quickstart (the customer's key, as its curl does).
    const sent = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        'idempotency-key': crypto.randomUUID(),
      },
      body: JSON.stringify({ to: '+14155550123', from: 'ACME', body: 'Hello from smsgw' }),
    })
    assert.equal(sent.status, 202)
    const messageId = ((await sent.json()) as { id: string }).id

    // Find it by id and watch it reach delivered on the page (it follows the message each second).
    await page.getByRole('link', { name: 'Messages', exact: true }).click()
    await page.getByLabel('Message id').fill(messageId)
    await page.getByRole('button', { name: 'Search messages' }).click()
    await page.getByRole('link', { name: messageId }).click()
    await page.getByRole('heading', { name: `Message ${messageId}` }).waitFor()
    await page.locator('p[aria-live] [data-status="delivered"]').waitFor({ timeout: 30_000 })
    const timeline = await page
      .locator('ol.timeline [data-status]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-status')))
    assert.deepEqual(timeline, ['queued', 'sending', 'sent', 'delivered'])
    await shot(page, '04-message-delivered.png')
    await assertAccessible(page, 'message')

    // Search the customer's messages by recipient and status.
    await page.getByRole('link', { name: 'Messages', exact: true }).click()
    await page.getByLabel('Customer id').fill(customerId)
    await page.getByLabel('To', { exact: true }).fill('+1 415 555 0123')
    await page.locator('select[name="status"]').selectOption('delivered')
    await page.getByRole('button', { name: 'Search messages' }).click()
    await page.getByRole('link', { name: messageId }).waitFor()
    await shot(page, '05-message-search.png')
    await assertAccessible(page, 'message search')

    // Overview: the live metrics stream has counted the message.
    await page.getByRole('link', { name: 'Overview', exact: true }).click()
    await page
      .locator('.stat', { hasText: 'Accepted since start' })
      .locator('.value', { hasText: /^[1-9]/ })
      .waitFor()
    await page.locator('.chart canvas').first().waitFor()
    await page.getByRole('cell', { name: 'otp', exact: true }).waitFor()
    await shot(page, '06-overview.png')
    await assertAccessible(page, 'overview')

    // Carriers: the simulated carriers, one opened.
    await page.getByRole('link', { name: 'Carriers', exact: true }).click()
    const first = page.getByRole('table', { name: 'Carriers' }).getByRole('link').first()
    await first.waitFor()
    const carrier = (await first.textContent())?.trim() ?? ''
    await shot(page, '07-carriers.png')
    await assertAccessible(page, 'carriers')
    await first.click()
    await page.getByRole('heading', { name: `Carrier ${carrier}` }).waitFor()
    await page.locator('[data-circuit]', { hasText: 'closed' }).waitFor()
    await shot(page, '08-carrier.png')
    await assertAccessible(page, 'carrier')

    // Inbound and usage: either their data or a clean "not available" (endpoints of other parts).
    await page.getByRole('link', { name: 'Inbound', exact: true }).click()
    await page.locator('[data-unavailable], table, section .note').first().waitFor()
    await assertAccessible(page, 'inbound')
    await page.getByRole('link', { name: 'Usage', exact: true }).click()
    await page.getByRole('heading', { name: 'Top customers' }).waitFor()
    await page
      .locator('section')
      .getByText(/not available|No traffic|Top customers by cost/)
      .first()
      .waitFor()
    await shot(page, '09-usage.png')
    await assertAccessible(page, 'usage')

    // Sign out: the token is gone from the tab; the API refuses the page until it signs in again.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('Admin token').waitFor()
    assert.equal(await page.evaluate(() => sessionStorage.length), 0)

    assert.ok(!gw.output().slice(logBefore).includes(adminToken), 'the admin token never reaches the logs')
    assert.deepEqual(pageErrors, [], 'no script error or CSP refusal on the page')
  })

  it('is readable on a phone (no sideways scrolling of the page) and accessible there', async () => {
    const page = await openPage({ width: 390, height: 844 })
    await signIn(page)
    await page.locator('.chart canvas').first().waitFor()
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    )
    assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px at 390 px wide`)
    await shot(page, '10-phone-overview.png')
    await assertAccessible(page, 'phone overview')
    // By keyboard: the skip link comes first, then the sections; Enter opens one and the focus
    // lands on its heading.
    await page.evaluate(() => {
      // From the top of the document, as after loading it.
      document.body.tabIndex = -1
      document.body.focus()
      document.body.removeAttribute('tabindex')
    })
    await page.keyboard.press('Tab')
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content')
    for (const name of ['Overview', 'Carriers', 'Customers']) {
      await page.keyboard.press('Tab')
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), name)
    }
    await page.keyboard.press('Enter')
    await page.getByRole('cell', { name: 'Acme Browser' }).waitFor()
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1')
    const overflow2 = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    )
    assert.ok(overflow2 <= 1, `customers scroll sideways by ${overflow2}px at 390 px wide`)
    await shot(page, '11-phone-customers.png')
    await assertAccessible(page, 'phone customers')
    assert.deepEqual(pageErrors, [], 'no script error or CSP refusal on the page')
  })
})
