/* The sandbox chat page: a person plays a portal user against the bots, through the control API.
 *
 * Everything goes through /_sandbox (the same user actions a test uses); the open chat is polled
 * every 700 ms and the dialog list every third tick, and only messages whose data changed are
 * re-rendered. The URL keeps ?userId=&dialog= so a page can be bookmarked or opened by a test.
 */
(function () {
  "use strict";

  const POLL_MS = 700;
  const { el, renderMessage, closeReactionMenu } = window.VibeRender;
  const $ = (id) => document.getElementById(id);

  const state = {
    portals: [],
    userId: null,
    dialogs: [],
    people: new Map(),
    dialogKey: null,
    chatId: null,
    chat: null,
    messages: [],
    rendered: new Map(), // message id -> {sig, node}
    blockedKeyboards: new Map(), // message id -> keyboard JSON at the time it was blocked
    editing: null,
    tick: 0,
    polling: false,
  };

  /* ---- control API ----------------------------------------------------------------------------- */
  async function api(method, path, body) {
    const response = await fetch("/_sandbox" + path, {
      method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
      cache: "no-store",
    });
    let payload = null;
    try { payload = await response.json(); } catch (e) { /* not JSON: handled below */ }
    if (!response.ok || !payload || !payload.success) {
      const error = (payload && payload.error) || {};
      const failure = new Error(error.message || `HTTP ${response.status}`);
      failure.code = error.code || "HTTP_" + response.status;
      throw failure;
    }
    return payload.data;
  }

  async function act(path, body) {
    try {
      const data = await api("POST", path, body);
      refreshSoon();
      return data;
    } catch (error) {
      toast(`${error.code}: ${error.message}`, true);
      throw error;
    }
  }

  /* ---- small UI helpers -------------------------------------------------------------------------- */
  let toastTimer = null;
  function toast(text, isError) {
    const box = $("toast");
    box.textContent = text;
    box.className = "toast" + (isError ? " error" : "");
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  function person(id) {
    return state.people.get(id) || { id, name: `#${id}`, isBot: false };
  }

  function initials(name) {
    return String(name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "?";
  }

  function avatar(name, seed, isBot) {
    const node = el("span", { class: "avatar" + (isBot ? " bot" : ""), text: initials(name) });
    node.style.background = `hsl(${(Number(seed) * 67) % 360} 55% 48%)`;
    return node;
  }

  function setUrl() {
    const params = new URLSearchParams();
    if (state.userId) params.set("userId", state.userId);
    if (state.dialogKey) params.set("dialog", state.dialogKey);
    const query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
  }

  /* ---- portals and users ------------------------------------------------------------------------- */
  async function loadPortals() {
    const data = await api("GET", "/portals");
    state.portals = data.portals;
    const portalSelect = $("portal-select");
    const chosen = portalSelect.value || portalOfUser(state.userId) || (state.portals[0] && state.portals[0].id) || "";
    replaceOptions(portalSelect, state.portals.map((p) => [p.id, `${p.name} (${p.domain})`]), chosen, "No portals yet");
    fillUsers();
  }

  function portalOfUser(userId) {
    const portal = state.portals.find((p) => p.users.some((u) => u.id === userId));
    return portal ? portal.id : null;
  }

  function replaceOptions(select, options, chosen, emptyLabel) {
    const current = JSON.stringify([...select.options].map((o) => [o.value, o.textContent]));
    const wanted = options.length ? options : [["", emptyLabel]];
    if (current !== JSON.stringify(wanted)) {
      select.replaceChildren(...wanted.map(([value, label]) => el("option", { value, text: label })));
    }
    if (chosen !== null && chosen !== undefined && wanted.some(([value]) => value === String(chosen))) select.value = String(chosen);
  }

  function fillUsers() {
    const portal = state.portals.find((p) => p.id === $("portal-select").value);
    const users = portal ? portal.users : [];
    const options = [["", "Choose a user…"], ...users.map((u) => [String(u.id), u.name + (u.isAdmin ? " (admin)" : "")])];
    replaceOptions($("user-select"), options, state.userId && users.some((u) => u.id === state.userId) ? state.userId : "", "");
  }

  function chooseUser(userId) {
    state.userId = userId;
    state.dialogs = [];
    state.dialogKey = null;
    closeChat();
    setUrl();
    $("dialog-list").replaceChildren();
    if (userId) loadDialogs().catch(() => {});
    renderEmptyStates();
  }

  /* ---- dialogs ------------------------------------------------------------------------------------- */
  async function loadDialogs() {
    const userId = state.userId;
    if (!userId) return;
    const data = await api("GET", `/users/${userId}/dialogs`);
    if (state.userId !== userId) return;
    state.people = new Map(data.people.map((p) => [p.id, p]));
    state.dialogs = data.dialogs;
    $("me-name").textContent = data.user.name;
    renderDialogs();
    renderEmptyStates();
    if (state.dialogKey && !state.chatId) {
      const dialog = state.dialogs.find((d) => d.key === state.dialogKey);
      if (dialog) openDialog(dialog.key);
    }
  }

  function renderDialogs() {
    const list = $("dialog-list");
    const items = state.dialogs.map((dialog) => {
      const last = dialog.lastMessage;
      const preview = last ? (last.deleted ? "message deleted" : (last.authorId === state.userId ? "You: " : "") + window.VibeBB.strip(last.text)) : dialog.subtitle;
      const item = el("li", {
        class: "dialog" + (dialog.key === state.dialogKey ? " active" : ""),
        "data-testid": "dialog-item",
        "data-dialog-key": dialog.key,
        tabIndex: 0,
      },
      avatar(dialog.title, dialog.botId || dialog.chatId, dialog.type === "private"),
      el("span", { class: "dialog-text" },
        el("span", { class: "dialog-title", text: dialog.title }),
        el("span", { class: "dialog-preview", text: preview })));
      item.addEventListener("click", () => openDialog(dialog.key));
      item.addEventListener("keydown", (event) => { if (event.key === "Enter") openDialog(dialog.key); });
      return item;
    });
    list.replaceChildren(...items);
  }

  async function openDialog(key) {
    const dialog = state.dialogs.find((d) => d.key === key);
    if (!dialog) return;
    let chatId = dialog.chatId;
    if (!chatId && dialog.botId) {
      // Opening a bot's dialog the first time is what raises ONIMBOTV2JOINCHAT.
      try {
        chatId = (await act("/act/open", { userId: state.userId, botId: dialog.botId })).chat.id;
      } catch (error) {
        return;
      }
      dialog.chatId = chatId;
    }
    if (state.chatId !== chatId) {
      closeChat();
      state.chatId = chatId;
    }
    state.dialogKey = key;
    setUrl();
    renderDialogs();
    $("placeholder").hidden = true;
    $("chat-view").hidden = false;
    document.body.classList.add("in-dialog");  // on a phone, the conversation alone (chat.css)
    $("chat-title").textContent = dialog.title;
    await loadChat();
    $("composer-input").focus();
  }

  function closeChat() {
    state.chatId = null;
    state.chat = null;
    state.messages = [];
    state.rendered.clear();
    cancelEdit();
    closeReactionMenu();
    $("message-list").replaceChildren();
    $("chat-view").hidden = true;
    $("placeholder").hidden = false;
    document.body.classList.remove("in-dialog");
  }

  function renderEmptyStates() {
    $("no-dialogs").hidden = !state.userId || state.dialogs.length > 0;
    $("placeholder-text").textContent = state.userId
      ? "Pick a dialog on the left, or create a group chat."
      : "Choose a portal and a user to play.";
    $("new-chat-button").disabled = !state.userId;
  }

  /* ---- the open chat ------------------------------------------------------------------------------- */
  async function loadChat() {
    const chatId = state.chatId;
    if (!chatId) return;
    const [chatData, messageData] = await Promise.all([
      api("GET", `/chats/${chatId}`),
      api("GET", `/chats/${chatId}/messages?limit=300`),
    ]);
    if (state.chatId !== chatId) return;
    state.chat = chatData.chat;
    for (const p of state.chat.people) if (!state.people.has(p.id)) state.people.set(p.id, p);
    state.messages = messageData.messages;
    renderChatHead();
    renderMessages();
    renderTyping();
    renderComposerState();
  }

  function renderChatHead() {
    const chat = state.chat;
    const others = chat.people.filter((p) => p.id !== state.userId);
    const bot = others[0] && others[0].isBot ? others[0] : null;
    $("chat-subtitle").textContent = chat.type === "private"
      ? (bot ? (bot.botType && bot.botType !== "bot" ? `${bot.botType} bot` : "chat bot") + (bot.language ? ` · language: ${bot.language}` : "") : "")
      : `${chat.people.length} members: ${chat.people.map((p) => (p.id === state.userId ? "you" : p.name)).join(", ")}`;
    $("group-tools").hidden = chat.type === "private";
    if (chat.type === "private") return;
    const bots = [...state.people.values()].filter((p) => p.isBot && !chat.members.includes(p.id));
    replaceOptions($("add-bot-select"), bots.map((b) => [String(b.id), b.name]), $("add-bot-select").value, "No other bots");
    $("add-bot-button").disabled = bots.length === 0;
    const mentionable = chat.people.filter((p) => p.id !== state.userId);
    replaceOptions($("mention-select"), [["", "@ Mention…"], ...mentionable.map((p) => [String(p.id), p.name + (p.isBot ? " (bot)" : "")])], "", "");
  }

  function isRead(message) {
    const marks = (state.chat && state.chat.readMarks) || {};
    return Object.entries(marks).some(([userId, messageId]) => Number(userId) !== state.userId && Number(messageId) >= message.id);
  }

  function messageContext() {
    return {
      userId: state.userId,
      person,
      nameOf: (id) => person(Number(id)).name,
      isRead,
      messageById: (id) => state.messages.find((m) => m.id === id) || null,
      isKeyboardBlocked: (message) => state.blockedKeyboards.get(message.id) === JSON.stringify(message.keyboard),
      onButton: pressButton,
      onReact: (message, reaction, action) => act("/act/reactions", { userId: state.userId, messageId: message.id, reaction, action }).catch(() => {}),
      onEdit: startEdit,
      onDelete: (message) => act(`/act/messages/${message.id}/delete`, { userId: state.userId }).catch(() => {}),
      bb: {
        onSend: (text) => sendText(text, "link").catch(() => {}),
        onPut: (text) => putText(text),
        nameOf: (id) => person(Number(id)).name,
      },
    };
  }

  function renderMessages() {
    const list = $("message-list");
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    const ctx = messageContext();
    const readSig = JSON.stringify(state.chat ? state.chat.readMarks : {});
    const seen = new Set();
    let previous = null;
    let grewByMine = false;
    for (const message of state.messages) {
      seen.add(message.id);
      const blocked = ctx.isKeyboardBlocked(message);
      const sig = JSON.stringify(message) + (message.authorId === state.userId ? readSig : "") + blocked + person(message.authorId).name;
      let entry = state.rendered.get(message.id);
      if (!entry || entry.sig !== sig) {
        const node = renderMessage(message, ctx);
        if (entry) entry.node.replaceWith(node);
        else if (message.authorId === state.userId) grewByMine = true;
        entry = { sig, node };
        state.rendered.set(message.id, entry);
      }
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (expected !== entry.node) list.insertBefore(entry.node, expected);
      previous = entry.node;
    }
    for (const [id, entry] of state.rendered) {
      if (!seen.has(id)) { entry.node.remove(); state.rendered.delete(id); }
    }
    $("no-messages").hidden = state.messages.length > 0;
    if (nearBottom || grewByMine) list.scrollTop = list.scrollHeight;
  }

  const TYPING_TEXT = {
    THINKING: "is thinking", SEARCHING: "is searching", GENERATING: "is generating", ANALYZING: "is analyzing",
    PROCESSING: "is processing", TRANSLATING: "is translating", CONNECTING: "is connecting", CHECKING: "is checking",
    CALCULATING: "is calculating", READING_DOCS: "is reading docs", COMPOSING: "is composing",
  };

  function renderTyping() {
    const box = $("typing-indicator");
    const typing = ((state.chat && state.chat.typing) || []).filter((t) => t.userId !== state.userId);
    if (!typing.length) { box.hidden = true; box.replaceChildren(); return; }
    const parts = typing.map((t) => {
      const code = String(t.statusMessageCode || "").replace(/^IMBOT_AGENT_ACTION_/, "");
      return `${person(t.userId).name} ${TYPING_TEXT[code] || "is typing"}`;
    });
    box.replaceChildren(el("span", { class: "dots" }, el("i"), el("i"), el("i")), parts.join(", ") + "…");
    box.hidden = false;
  }

  function renderComposerState() {
    const enabled = !state.chat || state.chat.textFieldEnabled !== false;
    $("composer-input").disabled = !enabled;
    $("send-button").disabled = !enabled;
    $("text-field-note").hidden = enabled;
  }

  /* ---- what the user does (actions.js) ------------------------------------------------------------ */
  const {
    sendText, putText, pressButton, startEdit, cancelEdit, submitComposer, autoGrow, insertAtCursor,
    openNewChatForm, createChat,
  } = window.VibeActions({ state, $, act, toast, person, openDialog: (key) => openDialog(key), loadDialogs: () => loadDialogs() });

  /* ---- polling ------------------------------------------------------------------------------------ */
  let refreshTimer = null;
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => { poll(true); }, 60);
  }

  async function poll(once) {
    if (state.polling) {
      // A refresh is in flight; the periodic loop must not end here, or the page stops updating for good.
      if (!once) setTimeout(() => poll(false), POLL_MS);
      return;
    }
    state.polling = true;
    try {
      if (state.tick % 15 === 0) await loadPortals();
      if (state.userId && (state.tick % 3 === 0 || once)) await loadDialogs();
      if (state.chatId) await loadChat();
      $("connection").textContent = "live";
      $("connection").className = "connection ok";
    } catch (error) {
      $("connection").textContent = "sandbox unreachable";
      $("connection").className = "connection down";
    } finally {
      state.polling = false;
    }
    if (!once) {
      state.tick += 1;
      setTimeout(() => poll(false), POLL_MS);
    }
  }

  /* ---- wiring --------------------------------------------------------------------------------------- */
  function wire() {
    $("portal-select").addEventListener("change", () => { fillUsers(); chooseUser(null); });
    $("user-select").addEventListener("change", (event) => chooseUser(event.target.value ? Number(event.target.value) : null));
    $("new-chat-button").addEventListener("click", openNewChatForm);
    $("new-chat-cancel").addEventListener("click", () => { $("new-chat-form").hidden = true; });
    $("new-chat-form").addEventListener("submit", createChat);
    $("composer").addEventListener("submit", (event) => { event.preventDefault(); submitComposer(); });
    const input = $("composer-input");
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submitComposer(); }
      if (event.key === "Escape") cancelEdit();
    });
    input.addEventListener("input", autoGrow);
    $("cancel-edit").addEventListener("click", cancelEdit);
    $("back-to-dialogs").addEventListener("click", () => {
      document.body.classList.remove("in-dialog");
      const active = document.querySelector(".dialog.active");
      if (active) active.focus();
    });
    $("add-bot-button").addEventListener("click", () => {
      const botId = Number($("add-bot-select").value);
      if (botId) act(`/act/chats/${state.chatId}/bots`, { userId: state.userId, botId }).catch(() => {});
    });
    $("mention-select").addEventListener("change", (event) => {
      const id = Number(event.target.value);
      if (id) insertAtCursor(`[USER=${id}]${person(id).name}[/USER] `);
      event.target.value = "";
    });
  }

  async function start() {
    wire();
    const params = new URLSearchParams(location.search);
    const wantedUser = Number(params.get("userId")) || null;
    state.dialogKey = params.get("dialog");
    state.userId = wantedUser;
    try {
      await loadPortals();
      if (wantedUser && !portalOfUser(wantedUser)) {
        toast(`No user ${wantedUser} in the sandbox`, true);
        state.userId = null;
      }
      if (state.userId) {
        $("portal-select").value = portalOfUser(state.userId);
        fillUsers();
        await loadDialogs();
      }
    } catch (error) {
      toast("The sandbox control API did not answer: " + error.message, true);
    }
    renderEmptyStates();
    if (state.portals.length || !wantedUser) {
      $("connection").textContent = "live";
      $("connection").className = "connection ok";
    }
    state.tick = 1;
    setTimeout(() => poll(false), POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
