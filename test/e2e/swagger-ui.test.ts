// Swagger UI of the whole system in a real browser (Debian's chromium driven
// by playwright-core): register over HTTP, "Authorize" with the access token,
// "Try it out" on GET /v1/users/{user_id}, and see 200 and the user's JSON.
import { existsSync } from 'node:fs';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Browser, chromium } from 'playwright-core';
import { SYSTEM_ENV } from './support/system.ts';

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  throw new Error(`${CHROMIUM} not found: run scripts/install-test-deps.sh (it installs Debian's chromium)`);
}
const TIMEOUT_MS = 90_000;

describe('Swagger UI against the running system', () => {
  let system: RunningSystem;
  let browser: Browser;

  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig(SYSTEM_ENV));
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
    await system?.stop();
  });

  it(
    'authorizes with a token from register and runs "Try it out" on GET /v1/users/{user_id}',
    async () => {
      const registered = await fetch(`${system.gatewayUrl}/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'grace@example.com', password: 'a long enough password', nickname: 'grace' }),
      });
      expect(registered.status).toBe(200);
      const { tokens, user } = (await registered.json()) as {
        tokens: { accessToken: string };
        user: { userId: string };
      };

      const page = await browser.newPage();
      try {
        await page.goto(`${system.gatewayUrl}/docs/`);
        await page.locator('.swagger-ui .info .title').waitFor();

        await page.locator('.auth-wrapper button.authorize').click();
        const modal = page.locator('.modal-ux');
        await modal.locator('input[type=text], input:not([type])').first().fill(tokens.accessToken);
        await modal.locator('.auth-btn-wrapper button.authorize').click();
        await modal.locator('button.btn-done, button.close-modal').first().click();

        const op = page.locator('#operations-UserService-UserService_GetUser');
        await op.locator('.opblock-summary').first().click();
        await op.locator('button.try-out__btn').click();
        await op.locator('input[placeholder="user_id"]').fill(user.userId);
        await op.locator('button.execute').click();

        const response = op.locator('.live-responses-table .response');
        await response.locator('.response-col_status').first().waitFor();
        expect(((await response.locator('.response-col_status').first().textContent()) ?? '').trim()).toBe('200');
        const body = (await response.locator('.response-col_description pre').first().textContent()) ?? '';
        expect(JSON.parse(body)).toMatchObject({ user: { userId: user.userId, nickname: 'grace' } });
      } finally {
        await page.close();
      }
    },
    TIMEOUT_MS,
  );
});
