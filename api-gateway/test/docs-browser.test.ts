// Swagger UI in a real browser (Debian's chromium driven by playwright-core):
// authorize with a real access token, "Try it out" on GET /v1/users/{user_id},
// and see the upstream's answer in the page.
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import { type GatewayFixture, startGateway } from './fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  throw new Error(`${CHROMIUM} not found: run scripts/install-test-deps.sh (it installs Debian's chromium)`);
}

const TIMEOUT_MS = 90_000;

describe('Swagger UI at /docs', () => {
  let fx: GatewayFixture;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    fx = await startGateway();
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(fx.app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  }, TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await fx?.close();
  });

  it(
    'authorizes with a bearer token and runs "Try it out" on GET /v1/users/{user_id}',
    async () => {
      const token = await fx.auth.token('u1');
      const page = await browser.newPage();
      try {
        await page.goto(`${base}/docs/`);
        await page.locator('.swagger-ui .info .title').waitFor();

        await page.locator('.auth-wrapper button.authorize').click();
        const modal = page.locator('.modal-ux');
        await modal.locator('input[type=text], input:not([type])').first().fill(token);
        await modal.locator('.auth-btn-wrapper button.authorize').click();
        await modal.locator('button.btn-done, button.close-modal').first().click();

        const op = page.locator('#operations-ProfileService-ProfileService_GetProfile');
        await op.locator('.opblock-summary').first().click();
        await op.locator('button.try-out__btn').click();
        await op.locator('input[placeholder="user_id"]').fill('u1');
        await op.locator('button.execute').click();

        const response = op.locator('.live-responses-table .response');
        await response.locator('.response-col_status').first().waitFor();
        expect(((await response.locator('.response-col_status').first().textContent()) ?? '').trim()).toBe('200');
        const body = (await response.locator('.response-col_description pre').first().textContent()) ?? '';
        expect(JSON.parse(body)).toMatchObject({ profile: { userId: 'u1', nickname: 'alice' } });
        // The request Swagger UI sent carried the token.
        const curl = (await op.locator('.curl-command').first().textContent()) ?? '';
        expect(curl).toContain(`Authorization: Bearer ${token}`);
      } finally {
        await page.close();
      }
    },
    TIMEOUT_MS,
  );
});
