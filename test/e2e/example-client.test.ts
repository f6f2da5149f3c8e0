// The example client at /examples/chat, in a real browser (Debian's chromium
// driven by playwright-core) against the whole system: two people sign in
// through the page, one opens a direct chat and writes, the other sees the
// chat and then each new message arrive live over the page's WebSocket, and
// reading it moves their read position on the server. A user picks a picture
// and it becomes their avatar. The page runs under its
// Content-Security-Policy with no console errors.
import { existsSync } from 'node:fs';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Browser, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { SYSTEM_ENV } from './support/system.ts';

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  throw new Error(`${CHROMIUM} not found: run scripts/install-test-deps.sh (it installs Debian's chromium)`);
}
const TIMEOUT_MS = 90_000;
const PASSWORD = 'a long enough password';

describe('the example client against the running system', () => {
  let system: RunningSystem;
  let browser: Browser;

  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig(SYSTEM_ENV));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-sync', '--no-first-run'],
    });
  }, TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  async function http(method: string, path: string, token?: string, body?: unknown) {
    const response = await fetch(`${system.gatewayUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  }

  async function register(nickname: string) {
    const signed = (await http('POST', '/v1/auth/register', undefined, {
      email: `${nickname}@example.com`,
      password: PASSWORD,
      nickname,
    })) as { tokens: { accessToken: string }; user: { userId: string } };
    return { token: signed.tokens.accessToken, userId: signed.user.userId, nickname };
  }

  /** A fresh page signed in through the page's own form; collects console errors. */
  async function signIn(nickname: string, errors: string[]): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    const response = await page.goto(`${system.gatewayUrl}/examples/chat`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.fill('input[name=email]', `${nickname}@example.com`);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[value=login]');
    await page.locator('#status', { hasText: `live as ${nickname}` }).waitFor();
    return page;
  }

  it(
    'signs in, opens a direct chat, and delivers messages live between two browsers',
    async () => {
      const ada = await register('ada');
      const bob = await register('bob');
      await http('POST', `/v1/friends/${bob.userId}`, ada.token, {});
      await http('POST', `/v1/friends/${ada.userId}/confirm`, bob.token, {});

      const errors: string[] = [];
      const adaPage = await signIn('ada', errors);
      const bobPage = await signIn('bob', errors);

      // Ada opens the direct chat by Bob's id and writes.
      await adaPage.fill('#new-chat input[name=userId]', bob.userId);
      await adaPage.click('#new-chat button');
      await adaPage.locator('#chat-title', { hasText: 'bob' }).waitFor();
      await adaPage.fill('#send input[name=text]', 'hello <b>bob</b>');
      await adaPage.click('#send button');
      await adaPage.locator('#messages li', { hasText: 'hello <b>bob</b>' }).waitFor();

      // Bob's list learns of the chat live (no reload); he opens it and sees the message as text.
      const chatItem = bobPage.locator('#chats li', { hasText: 'ada' });
      await chatItem.waitFor();
      await chatItem.click();
      await bobPage.locator('#messages li .text', { hasText: 'hello <b>bob</b>' }).waitFor();
      expect(await bobPage.locator('#messages b').count()).toBe(0);

      // With the chat open, the next message arrives over the socket.
      await adaPage.fill('#send input[name=text]', 'second message');
      await adaPage.click('#send button');
      await bobPage.locator('#messages li', { hasText: 'second message' }).waitFor();
      expect(await bobPage.locator('#messages li .text').allTextContents()).toEqual([
        'hello <b>bob</b>',
        'second message',
      ]);

      // Bob's page told the server over the socket that he read both.
      const deadline = Date.now() + 10_000;
      let unread = '';
      while (Date.now() < deadline) {
        const listed = (await http('GET', '/v1/chats', bob.token)) as { chats: { unreadCount?: string }[] };
        unread = listed.chats[0]?.unreadCount ?? '0';
        if (unread === '0') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(unread).toBe('0');
      expect(errors).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    'shows a change of a group as a line saying who did what, not as an empty message',
    async () => {
      const cyd = await register('cyd');
      const dee = await register('dee');
      await http('POST', `/v1/friends/${dee.userId}`, cyd.token, {});
      await http('POST', `/v1/friends/${cyd.userId}/confirm`, dee.token, {});
      const created = (await http('POST', '/v1/chats', cyd.token, {
        type: 'CHAT_TYPE_GROUP',
        title: 'climbing',
        memberIds: [dee.userId],
      })) as { chat: { chatId: string } };
      await http('PATCH', `/v1/chats/${created.chat.chatId}`, cyd.token, {
        chat: { title: 'bouldering' },
        updateMask: 'title',
      });

      const errors: string[] = [];
      const page = await signIn('dee', errors);
      await page.locator('#chats li', { hasText: 'bouldering' }).click();
      await page.locator('#messages li.system .text', { hasText: 'cyd renamed the group to “bouldering”' }).waitFor();
      expect(await page.locator('#messages li .text').allTextContents()).toEqual([
        'cyd renamed the group to “bouldering”',
      ]);
      expect(errors).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    'uploads an avatar from a file the user picks and shows the stored picture; a file that is not an image gets the server’s reason',
    async () => {
      const eve = await register('eve');
      const errors: string[] = [];
      const page = await signIn('eve', errors);
      const picture = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#2f6fed' } })
        .png()
        .toBuffer();
      await page.setInputFiles('#avatar-form input[type=file]', {
        name: 'me.png',
        mimeType: 'image/png',
        buffer: picture,
      });
      await page.click('#avatar-form button');
      const avatar = page.locator('#avatar');
      await avatar.waitFor();
      // Loaded and decoded: the browser fetched the picture from the gateway (the page's policy allows this origin only).
      await page.waitForFunction(
        "document.getElementById('avatar').complete && document.getElementById('avatar').naturalWidth > 0",
      );
      // The page shows the stored, resized copy the profile now points at.
      const src = new URL((await avatar.getAttribute('src')) ?? '', system.gatewayUrl).pathname;
      expect(src).toMatch(/^\/v1\/media\/avatars\/[\w-]+$/);
      const profile = (await http('GET', `/v1/users/${eve.userId}`, eve.token)) as { user: { avatarUrl: string } };
      expect(profile.user.avatarUrl).toBe(src);
      expect(await page.evaluate("document.getElementById('avatar').naturalWidth")).toBe(512);

      await page.setInputFiles('#avatar-form input[type=file]', {
        name: 'notes.png',
        mimeType: 'image/png',
        buffer: Buffer.from('these are not the bytes of a picture'),
      });
      await page.click('#avatar-form button');
      const refusal = await fetch(`${system.gatewayUrl}/v1/users/me/avatar`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${eve.token}`, 'content-type': 'image/png' },
        body: 'these are not the bytes of a picture',
      });
      expect(refusal.status).toBe(415);
      const { message } = (await refusal.json()) as { message: string };
      await page.locator('#avatar-error', { hasText: message }).waitFor();
      expect((await http('GET', `/v1/users/${eve.userId}`, eve.token)) as unknown).toMatchObject({
        user: { avatarUrl: src },
      });
      // The refused upload's 415 is the one console error the browser reports.
      expect(errors.filter((e) => !e.includes('415'))).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it('serves the page with a policy that allows no inline code or framing', async () => {
    const page = await fetch(`${system.gatewayUrl}/examples/chat`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const policy = page.headers.get('content-security-policy') ?? '';
    expect(policy).not.toContain('unsafe-inline');
    expect(policy).toContain("frame-ancestors 'none'");
    const script = await fetch(`${system.gatewayUrl}/examples/chat/app.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain('/v1/ws');
  });
});
