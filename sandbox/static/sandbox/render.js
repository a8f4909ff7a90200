/* Builds the DOM of one chat message: text, attach, keyboard, reactions and its action buttons.
 *
 * Everything a user or a bot wrote goes through VibeBB.render or textContent; nothing here uses
 * innerHTML. `ctx` carries the page's callbacks (send, put, press a button, react, edit, delete).
 */
(function () {
  "use strict";

  const REACTIONS = [
    ["like", "👍"], ["dislike", "👎"], ["redHeart", "❤️"], ["fire", "🔥"], ["faceWithTearsOfJoy", "😂"],
    ["laugh", "😆"], ["wonder", "😮"], ["cry", "😢"], ["clappingHands", "👏"], ["okHand", "👌"],
    ["thinkingFace", "🤔"], ["eyes", "👀"], ["partyingFace", "🥳"], ["whiteHeavyCheckMark", "✅"],
  ];
  const REACTION_EMOJI = Object.fromEntries(REACTIONS);
  const TOKENS = new Set(["primary", "secondary", "alert", "base"]);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("data-")) node.setAttribute(name, String(value));
      else node[name] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function timeOf(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function isYes(value) {
    return value === true || String(value || "").toUpperCase() === "Y";
  }

  /* ---- keyboard ------------------------------------------------------------------------------ */
  function renderKeyboard(message, ctx) {
    const keyboard = el("div", { class: "keyboard", "data-testid": "keyboard" });
    let row = el("div", { class: "kb-row" });
    let index = 0; // counts real buttons, as POST /_sandbox/act/buttons does
    const blocked = ctx.isKeyboardBlocked(message);
    for (const button of message.keyboard) {
      if (!button || typeof button !== "object") continue;
      if (String(button.TYPE || "").toUpperCase() === "NEWLINE") {
        keyboard.appendChild(row);
        row = el("div", { class: "kb-row" });
        continue;
      }
      const buttonIndex = index;
      index += 1;
      if (String(button.CONTEXT || "ALL").toUpperCase() === "MOBILE") continue; // this is a desktop client
      const token = TOKENS.has(String(button.BG_COLOR_TOKEN || "").toLowerCase())
        ? String(button.BG_COLOR_TOKEN).toLowerCase() : "base";
      const display = String(button.DISPLAY || "BLOCK").toUpperCase() === "LINE" ? "line" : "block";
      const disabled = isYes(button.DISABLED) || blocked;
      const node = el("button", {
        type: "button",
        class: `kb-btn kb-${token} kb-${display}`,
        text: String(button.TEXT || ""),
        disabled,
        "data-testid": "keyboard-button",
        "data-index": buttonIndex,
        "data-kind": buttonKind(button),
      });
      const bg = window.VibeBB.safeColor(disabled ? button.OFF_BG_COLOR || button.BG_COLOR : button.BG_COLOR);
      const fg = window.VibeBB.safeColor(disabled ? button.OFF_TEXT_COLOR || button.TEXT_COLOR : button.TEXT_COLOR);
      if (bg) node.style.background = bg;
      if (fg) node.style.color = fg;
      const width = parseInt(button.WIDTH, 10);
      if (Number.isFinite(width) && width > 0) { node.style.width = Math.min(width, 600) + "px"; node.style.flex = "0 0 auto"; }
      node.addEventListener("click", () => ctx.onButton(message, button, buttonIndex));
      row.appendChild(node);
    }
    keyboard.appendChild(row);
    return keyboard;
  }

  function buttonKind(button) {
    if (button.LINK) return "link";
    if (button.ACTION) return String(button.ACTION).toLowerCase();
    if (button.COMMAND) return "command";
    if (button.APP_ID) return "app";
    return "none";
  }

  /* ---- attach --------------------------------------------------------------------------------- */
  function asList(value) {
    if (Array.isArray(value)) return value;
    return value && typeof value === "object" ? [value] : [];
  }

  function attachLink(href, label, testId) {
    const url = window.VibeBB.safeUrl(href);
    const node = el(url ? "a" : "span", { class: "attach-link", text: label, "data-testid": testId });
    if (url) { node.href = url; node.target = "_blank"; node.rel = "noopener noreferrer"; }
    return node;
  }

  function renderBlock(kind, value, ctx) {
    switch (kind) {
      case "MESSAGE":
        return window.VibeBB.render(el("div", { class: "attach-message" }), String(value), ctx.bb);
      case "LINK": {
        const item = value || {};
        return el("div", { class: "attach-card" },
          attachLink(item.LINK, String(item.NAME || item.LINK || "link"), "attach-link"),
          item.DESC ? window.VibeBB.render(el("div", { class: "attach-desc" }), String(item.DESC), ctx.bb) : null);
      }
      case "USER": {
        const item = value || {};
        return el("div", { class: "attach-user" }, "👤 ", attachLink(item.LINK, String(item.NAME || "user"), "attach-user"));
      }
      case "DELIMITER":
        return el("hr", { class: "attach-delimiter" });
      case "GRID": {
        const grid = el("div", { class: "attach-grid" });
        for (const cell of asList(value)) {
          const display = String(cell.DISPLAY || "BLOCK").toLowerCase();
          const valueNode = window.VibeBB.render(el("span", { class: "grid-value" }), String(cell.VALUE ?? ""), ctx.bb);
          grid.appendChild(el("div", { class: `grid-cell grid-${display}` },
            el("span", { class: "grid-name", text: String(cell.NAME ?? "") }), valueNode));
        }
        return grid;
      }
      case "IMAGE":
        return el("div", { class: "attach-files" }, ...asList(value).map((img) =>
          attachLink(img.LINK || img.PREVIEW, "🖼 " + String(img.NAME || img.LINK || "image"), "attach-image")));
      case "FILE":
        return el("div", { class: "attach-files" }, ...asList(value).map((file) =>
          attachLink(file.LINK, "📎 " + String(file.NAME || "file") + (file.SIZE ? ` (${formatSize(file.SIZE)})` : ""), "attach-file")));
      default:
        return el("pre", { class: "attach-raw", text: kind + ": " + JSON.stringify(value, null, 1) });
    }
  }

  function formatSize(bytes) {
    const n = Number(bytes);
    if (!Number.isFinite(n)) return String(bytes);
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  /* One attach is {ID?, COLOR?, COLOR_TOKEN?, BLOCKS:[…]} or a bare array of blocks; an array of
   * full attaches shows one card each. */
  function attachCards(attach) {
    if (Array.isArray(attach) && attach.length && attach.every((a) => a && Array.isArray(a.BLOCKS))) return attach;
    return [attach];
  }

  function renderAttach(attach, ctx) {
    const items = attachCards(attach);
    const box = el("div", { class: "attach-list", "data-testid": "message-attach" });
    for (const item of items) {
      if (!item || typeof item !== "object") continue;
      const full = !Array.isArray(item) && Array.isArray(item.BLOCKS);
      const blocks = full ? item.BLOCKS : (Array.isArray(item) ? item : [item]);
      const token = full && TOKENS.has(String(item.COLOR_TOKEN || "").toLowerCase()) ? String(item.COLOR_TOKEN).toLowerCase() : "base";
      const card = el("div", { class: `attach attach-${token}` });
      const color = full ? window.VibeBB.safeColor(item.COLOR) : null;
      if (color) card.style.borderLeftColor = color;
      for (const block of blocks) {
        if (!block || typeof block !== "object") continue;
        for (const [kind, value] of Object.entries(block)) card.appendChild(renderBlock(String(kind).toUpperCase(), value, ctx));
      }
      box.appendChild(card);
    }
    return box;
  }

  /* Files the message carries: the control API resolves params.files into {id, name, size}. */
  function renderFiles(files) {
    if (!Array.isArray(files) || !files.length) return null;
    return el("div", { class: "msg-files", "data-testid": "message-files" }, ...files.map((file) => {
      const chip = el("a", {
        class: "file-chip",
        text: "📎 " + String(file.name || `file #${file.id}`) + (file.size ? ` (${formatSize(file.size)})` : ""),
        "data-testid": "message-file",
      });
      chip.href = `/_sandbox/files/${encodeURIComponent(file.id)}`;
      chip.setAttribute("download", String(file.name || "file"));
      return chip;
    }));
  }

  /* ---- reactions ------------------------------------------------------------------------------ */
  function renderReactions(message, ctx) {
    const box = el("div", { class: "reactions", "data-testid": "reactions" });
    for (const [code, ids] of Object.entries(message.reactions || {})) {
      if (!ids.length) continue;
      const mine = ids.includes(ctx.userId);
      const chip = el("button", {
        type: "button",
        class: "reaction-chip" + (mine ? " mine" : ""),
        title: code + ": " + ids.map(ctx.nameOf).join(", "),
        "data-testid": "reaction-chip",
        "data-reaction": code,
      }, (REACTION_EMOJI[code] || code) + " ", el("span", { class: "count", text: String(ids.length) }));
      chip.addEventListener("click", () => ctx.onReact(message, code, mine ? "delete" : "add"));
      box.appendChild(chip);
    }
    return box.childNodes.length ? box : null;
  }

  function openReactionMenu(anchor, message, ctx) {
    closeReactionMenu();
    const menu = el("div", { class: "reaction-menu", "data-testid": "reaction-menu", role: "menu" });
    for (const [code, emoji] of REACTIONS) {
      const option = el("button", { type: "button", class: "reaction-option", title: code, text: emoji,
        "data-testid": "reaction-option", "data-reaction": code });
      option.addEventListener("click", () => {
        closeReactionMenu();
        const mine = (message.reactions[code] || []).includes(ctx.userId);
        ctx.onReact(message, code, mine ? "delete" : "add");
      });
      menu.appendChild(option);
    }
    document.body.appendChild(menu);
    const rect = anchor.getBoundingClientRect();
    const top = Math.max(8, rect.top + window.scrollY - menu.offsetHeight - 6);
    const left = Math.min(window.innerWidth - menu.offsetWidth - 8, Math.max(8, rect.left + window.scrollX - menu.offsetWidth / 2));
    menu.style.top = top + "px";
    menu.style.left = left + "px";
    setTimeout(() => document.addEventListener("click", closeOnOutside, true), 0);
  }

  function closeOnOutside(event) {
    const menu = document.querySelector(".reaction-menu");
    if (menu && !menu.contains(event.target)) closeReactionMenu();
  }

  function closeReactionMenu() {
    document.removeEventListener("click", closeOnOutside, true);
    const menu = document.querySelector(".reaction-menu");
    if (menu) menu.remove();
  }

  /* ---- message --------------------------------------------------------------------------------- */
  function renderMessage(message, ctx) {
    const own = message.authorId === ctx.userId;
    const author = ctx.person(message.authorId);
    const classes = ["msg", own ? "own" : "other"];
    if (author.isBot) classes.push("from-bot");
    if (message.isSystem) classes.push("system");
    if (message.deleted) classes.push("deleted");
    const node = el("div", {
      class: classes.join(" "),
      "data-testid": "message",
      "data-message-id": message.id,
      "data-author-id": message.authorId,
      "data-system": message.isSystem ? "true" : null,
    });

    const meta = el("div", { class: "msg-meta" },
      el("span", { class: "msg-author", text: own ? "You" : author.name, "data-testid": "message-author" }),
      author.isBot && !own ? el("span", { class: "badge", text: "bot" }) : null,
      el("span", { class: "msg-time", text: timeOf(message.date), title: message.date }),
      message.editedAt && !message.deleted ? el("span", { class: "msg-edited", text: "edited", title: message.editedAt }) : null,
      own && !message.deleted ? el("span", {
        class: "read-mark" + (ctx.isRead(message) ? " read" : ""),
        text: ctx.isRead(message) ? "✓✓" : "✓",
        title: ctx.isRead(message) ? "read" : "sent",
        "data-testid": "read-mark",
      }) : null);
    node.appendChild(meta);

    const bubble = el("div", { class: "bubble" });
    node.appendChild(bubble);
    if (message.deleted) {
      bubble.appendChild(el("div", { class: "msg-text muted", text: "This message was deleted", "data-testid": "message-deleted" }));
      return node;
    }
    const replied = message.replyId ? ctx.messageById(message.replyId) : null;
    if (message.replyId || message.answerTo) {
      const target = replied || (message.answerTo ? ctx.messageById(message.answerTo) : null);
      const label = target
        ? `${ctx.person(target.authorId).name}: ${window.VibeBB.strip(target.text).slice(0, 80)}`
        : `message #${message.replyId || message.answerTo}`;
      bubble.appendChild(el("div", { class: "msg-reply", text: "↪ " + label, "data-testid": "message-reply" }));
    }
    bubble.appendChild(window.VibeBB.render(el("div", { class: "msg-text", "data-testid": "message-text" }), message.text, ctx.bb));
    if (message.attach) bubble.appendChild(renderAttach(message.attach, ctx));
    const files = renderFiles(message.files);
    if (files) bubble.appendChild(files);
    if (Array.isArray(message.keyboard) && message.keyboard.length) node.appendChild(renderKeyboard(message, ctx));
    const reactions = renderReactions(message, ctx);
    if (reactions) node.appendChild(reactions);

    const actions = el("div", { class: "msg-actions" });
    const reactButton = el("button", { type: "button", class: "icon-btn", text: "☺", title: "React", "data-testid": "react-button" });
    reactButton.addEventListener("click", (event) => { event.stopPropagation(); openReactionMenu(reactButton, message, ctx); });
    actions.appendChild(reactButton);
    if (own && !message.isSystem) {
      const edit = el("button", { type: "button", class: "icon-btn", text: "Edit", "data-testid": "edit-button" });
      edit.addEventListener("click", () => ctx.onEdit(message));
      const del = el("button", { type: "button", class: "icon-btn danger", text: "Delete", "data-testid": "delete-button" });
      del.addEventListener("click", () => ctx.onDelete(message));
      actions.append(edit, del);
    }
    node.appendChild(actions);
    return node;
  }

  window.VibeRender = { el, renderMessage, closeReactionMenu, REACTIONS, timeOf };
})();
