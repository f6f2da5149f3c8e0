// The example client: a whole session against the gateway's public HTTP
// API, in plain browser JavaScript with no build step, for reading rather
// than for production. It signs in (or registers), lists the caller's chats,
// shows one chat's history, sends messages, and keeps one WebSocket
// (`GET /v1/ws`, docs/API.md) for live updates: new messages appear at once,
// read positions go back over the same socket, and a dropped socket
// reconnects with `resumeAfter` so no update is lost or repeated. It also
// uploads an avatar (`PUT /v1/users/me/avatar`, the file itself as the body).
// Text from the server only ever reaches the page as textContent.

const $ = (id) => document.getElementById(id);

/** @type {{ accessToken: string, refreshToken: string, userId: string, nickname: string } | null} */
let session = null;
/** Chat id → { chat, unread } for the list. */
const chats = new Map();
/** The open chat's id, and the message ids shown in it (an update and a send answer may both bring one). */
let openChatId = null;
const shown = new Set();
/** The last update this client processed: where a new socket resumes. */
let lastUpdateId = '';
let socket = null;
let reconnectTimer = null;

function setStatus(text) {
  $('status').textContent = text;
}

/** One JSON call; throws the google.rpc.Status message on an error answer. */
async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (session) headers.authorization = `Bearer ${session.accessToken}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || `${method} ${path}: HTTP ${response.status}`);
  return data;
}

// --- signing in ---------------------------------------------------------------

$('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const register = event.submitter?.value === 'register';
  const body = { email: form.get('email'), password: form.get('password') };
  if (register) body.nickname = form.get('nickname');
  $('sign-in-error').textContent = '';
  try {
    const signed = await api('POST', register ? '/v1/auth/register' : '/v1/auth/login', body);
    session = {
      accessToken: signed.tokens.accessToken,
      refreshToken: signed.tokens.refreshToken,
      userId: signed.user.userId,
      nickname: signed.user.nickname,
    };
    $('sign-in').hidden = true;
    $('messenger').hidden = false;
    setStatus(`signed in as ${session.nickname} (${session.userId})`);
    showAvatar(signed.user.avatarUrl);
    await loadChats();
    connect();
  } catch (error) {
    $('sign-in-error').textContent = error.message;
  }
});

/** A fresh token pair for an expired access token; false when the session is over. */
async function refresh() {
  try {
    const { tokens } = await api('POST', '/v1/auth/refresh', { refreshToken: session.refreshToken });
    session.accessToken = tokens.accessToken;
    session.refreshToken = tokens.refreshToken;
    return true;
  } catch {
    return false;
  }
}

function signOut(reason) {
  session = null;
  socket?.close();
  clearTimeout(reconnectTimer);
  $('messenger').hidden = true;
  $('sign-in').hidden = false;
  setStatus(`signed out: ${reason}`);
}

// --- the avatar -----------------------------------------------------------------

/** Shows the profile picture at `url`, an uploaded avatar's path (the page's policy loads images from this origin only); none hides it. */
function showAvatar(url) {
  $('avatar').hidden = !url;
  if (url) $('avatar').src = url;
}

$('avatar-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = new FormData(event.target).get('image');
  $('avatar-error').textContent = '';
  // The body is the file as it is: the server reads its format from the bytes, not from the name or type.
  const response = await fetch('/v1/users/me/avatar', {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${session.accessToken}`,
      'content-type': file.type || 'application/octet-stream',
    },
    body: file,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    $('avatar-error').textContent = data.message || `HTTP ${response.status}`;
    return;
  }
  event.target.reset();
  showAvatar(data.user.avatarUrl);
});

// --- the chat list --------------------------------------------------------------

/** What a chat is called: a group's title, or the other member of a direct chat. */
function chatName(chat) {
  if (chat.type === 'CHAT_TYPE_GROUP') return chat.title;
  const other = (chat.members ?? []).find((m) => m.userId !== session.userId);
  return other ? other.nickname : 'direct chat';
}

async function loadChats() {
  const { chats: summaries = [] } = await api('GET', '/v1/chats?pageSize=100');
  chats.clear();
  for (const s of summaries) chats.set(s.chat.chatId, { chat: s.chat, unread: Number(s.unreadCount ?? 0) });
  renderChats();
}

function renderChats() {
  const list = $('chats');
  list.replaceChildren();
  for (const [chatId, { chat, unread }] of chats) {
    const item = document.createElement('li');
    item.dataset.chatId = chatId;
    if (chatId === openChatId) item.setAttribute('aria-current', 'true');
    const name = document.createElement('span');
    name.textContent = chatName(chat);
    const badge = document.createElement('span');
    badge.className = 'unread';
    badge.textContent = unread > 0 ? String(unread) : '';
    item.append(name, badge);
    item.addEventListener('click', () => openChat(chatId));
    list.append(item);
  }
}

$('new-chat').addEventListener('submit', async (event) => {
  event.preventDefault();
  const userId = new FormData(event.target).get('userId').trim();
  try {
    const { chat } = await api('POST', '/v1/chats', { type: 'CHAT_TYPE_DIRECT', memberIds: [userId] });
    chats.set(chat.chatId, { chat, unread: 0 });
    event.target.reset();
    await openChat(chat.chatId);
  } catch (error) {
    $('chat-error').textContent = error.message;
  }
});

// --- one chat -----------------------------------------------------------------------

function senderName(chatId, senderId) {
  const member = (chats.get(chatId)?.chat.members ?? []).find((m) => m.userId === senderId);
  return member ? member.nickname : senderId;
}

const ROLE_NAMES = { CHAT_MEMBER_ROLE_ADMIN: 'an admin', CHAT_MEMBER_ROLE_MEMBER: 'a member' };

/** One line for a system message ("ada made bob an admin"), from its structured fields. */
function describeSystem(chatId, system) {
  const actor = senderName(chatId, system.actorId);
  const targets = (system.targetUserIds ?? []).map((id) => senderName(chatId, id)).join(', ');
  switch (system.kind) {
    case 'SYSTEM_EVENT_KIND_MEMBERS_ADDED':
      return `${actor} added ${targets}`;
    case 'SYSTEM_EVENT_KIND_INVITATION_ACCEPTED':
      return `${actor} joined`;
    case 'SYSTEM_EVENT_KIND_JOINED_BY_LINK':
      return `${actor} joined with an invite link`;
    case 'SYSTEM_EVENT_KIND_MEMBER_REMOVED':
      return `${actor} removed ${targets}`;
    case 'SYSTEM_EVENT_KIND_MEMBER_LEFT':
      return `${actor} left`;
    case 'SYSTEM_EVENT_KIND_ROLE_CHANGED':
      return `${actor} made ${targets} ${ROLE_NAMES[system.role] ?? 'a member'}`;
    case 'SYSTEM_EVENT_KIND_OWNERSHIP_TRANSFERRED':
      return `${actor} handed the group to ${targets}`;
    case 'SYSTEM_EVENT_KIND_PROFILE_CHANGED':
      return (system.changedFields ?? []).includes('title')
        ? `${actor} renamed the group to “${system.title ?? ''}”`
        : `${actor} changed the group's profile`;
    default:
      return `${actor} changed the group`;
  }
}

function appendMessage(message) {
  if (message.chatId !== openChatId || shown.has(message.messageId)) return;
  shown.add(message.messageId);
  const item = document.createElement('li');
  item.dataset.messageId = message.messageId;
  item.dataset.sequence = message.sequence;
  const sender = document.createElement('span');
  sender.className = 'sender';
  sender.textContent = senderName(message.chatId, message.senderId);
  const text = document.createElement('span');
  text.className = 'text';
  if (message.system) {
    // A change of the group the server recorded: rendered from its fields, the text is empty.
    item.classList.add('system');
    text.textContent = describeSystem(message.chatId, message.system);
    item.append(text);
  } else {
    if (message.deleted) {
      text.classList.add('deleted');
      text.textContent = 'message deleted';
    } else {
      text.textContent = message.text;
    }
    item.append(sender, text);
  }
  $('messages').append(item);
  item.scrollIntoView({ block: 'end' });
}

function replaceMessage(message) {
  const item = $('messages').querySelector(`li[data-message-id="${CSS.escape(message.messageId)}"] .text`);
  if (!item) return;
  item.classList.toggle('deleted', Boolean(message.deleted));
  item.textContent = message.deleted ? 'message deleted' : message.text;
}

async function openChat(chatId) {
  openChatId = chatId;
  shown.clear();
  $('messages').replaceChildren();
  $('chat-error').textContent = '';
  $('chat').hidden = false;
  $('chat-title').textContent = chatName(chats.get(chatId).chat);
  renderChats();
  const { messages = [] } = await api('GET', `/v1/chats/${chatId}/messages?pageSize=50`);
  for (const message of messages.reverse()) appendMessage(message);
  markRead();
}

/** Tells the server (over the socket) that everything shown in the open chat has been read. */
function markRead() {
  const last = $('messages').lastElementChild;
  const entry = chats.get(openChatId);
  if (!last || !entry) return;
  entry.unread = 0;
  renderChats();
  if (socket?.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ type: 'read', chatId: openChatId, upToSequence: last.dataset.sequence }));
  }
}

$('send').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const text = new FormData(form).get('text');
  try {
    // The client's own id makes a retried send idempotent.
    const { message } = await api('POST', `/v1/chats/${openChatId}/messages`, {
      clientMessageId: crypto.randomUUID(),
      text,
    });
    form.reset();
    appendMessage(message);
  } catch (error) {
    $('chat-error').textContent = error.message;
  }
});

// --- live updates -------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const resume = lastUpdateId ? `?resumeAfter=${encodeURIComponent(lastUpdateId)}` : '';
  // The token travels as a subprotocol, never in the URL (which logs and proxies keep).
  socket = new WebSocket(`${scheme}://${location.host}/v1/ws${resume}`, [
    'messenger.v1',
    `bearer.${session.accessToken}`,
  ]);
  socket.addEventListener('open', () => setStatus(`live as ${session.nickname} (${session.userId})`));
  socket.addEventListener('message', (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === 'update') onUpdate(frame.update.update ?? frame.update);
    else if (frame.type === 'error') $('chat-error').textContent = frame.error.message;
  });
  socket.addEventListener('close', async (event) => {
    if (!session) return;
    if (event.code === 4401) {
      // Session ended (logout elsewhere) or the token expired: a refresh tells which.
      if (!(await refresh())) return signOut('the session ended');
      return connect();
    }
    // 1001 carries the server's suggested delay (`retry=<ms>`); otherwise back off a little.
    const suggested = /retry=(\d+)/.exec(event.reason)?.[1];
    const delay = suggested ? Number(suggested) : 1000 + Math.random() * 2000;
    setStatus(`reconnecting in ${Math.round(delay / 1000)} s`);
    reconnectTimer = setTimeout(connect, delay);
  });
}

function onUpdate(update) {
  if (update.updateId) lastUpdateId = update.updateId;
  if (update.messageCreated) {
    const message = update.messageCreated;
    if (message.chatId === openChatId) {
      appendMessage(message);
      markRead();
    } else if (chats.has(message.chatId) && message.senderId !== session.userId) {
      chats.get(message.chatId).unread += 1;
      renderChats();
    } else if (!chats.has(message.chatId)) {
      void loadChats();
    }
  } else if (update.messageEdited || update.messageDeleted) {
    replaceMessage(update.messageEdited ?? update.messageDeleted);
  } else if (update.chatCreated || update.chatUpdated || update.memberAdded || update.memberRemoved) {
    void loadChats();
  } else if (update.resyncRequired) {
    // The resume point is too old for the server: reload what is on screen.
    void loadChats().then(() => openChatId && openChat(openChatId));
  }
}
