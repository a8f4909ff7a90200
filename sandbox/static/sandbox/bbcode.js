/* BB codes -> DOM for the sandbox chat page.
 *
 * Safety by construction: text only ever reaches the page through text nodes (createTextNode /
 * textContent), never through innerHTML, so "escape first" holds for every character a user or a bot
 * sends. Tags become elements built here; attribute values (URLs, colours, sizes) are checked against
 * allow-lists before use. Tags are case-insensitive; a tag that is never closed is shown literally.
 */
(function () {
  "use strict";

  const TAG = /\[(\/?)([a-zA-Z]+)(?:=([^\]\n]*))?\]/g;
  const PAIRED = new Set(["b", "i", "u", "s", "url", "user", "send", "put", "color", "size", "quote", "chat", "call"]);
  const URL_IN_TEXT = /\bhttps?:\/\/[^\s\[\]<>"']+/gi;
  const COLOR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

  function safeUrl(raw) {
    const value = String(raw || "").trim();
    if (/^https?:\/\//i.test(value)) {
      try {
        const url = new URL(value);
        return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
      } catch (e) {
        return null;
      }
    }
    if (value.startsWith("/") && !value.startsWith("//")) return value; // portal-relative
    if (/^www\.[^\s]+$/i.test(value)) return "http://" + value;
    return null;
  }

  function safeColor(raw) {
    const value = String(raw || "").trim();
    return COLOR.test(value) ? value : null;
  }

  /* Parse text into a tree: {tag, value, raw, children[], closed} nodes and plain strings. */
  function parse(text) {
    const root = { tag: null, children: [], closed: true };
    const stack = [root];
    let pos = 0;
    TAG.lastIndex = 0;
    let match;
    const top = () => stack[stack.length - 1];
    const pushText = (s) => { if (s) top().children.push(s); };
    while ((match = TAG.exec(text)) !== null) {
      const [raw, slash, rawName, value] = match;
      const name = rawName.toLowerCase();
      if (name !== "br" && name !== "code" && !PAIRED.has(name)) continue; // unknown: stays literal
      pushText(text.slice(pos, match.index));
      pos = match.index + raw.length;
      if (name === "br") {
        if (slash) pushText(raw); else top().children.push({ tag: "br", children: [], closed: true });
        continue;
      }
      if (name === "code") {
        const rest = text.slice(pos);
        const end = slash ? -1 : rest.search(/\[\/code\]/i);
        if (end < 0) { pushText(raw); continue; }
        top().children.push({ tag: "code", literal: rest.slice(0, end), children: [], closed: true });
        pos += end + "[/code]".length;
        TAG.lastIndex = pos;
        continue;
      }
      if (!slash) {
        const node = { tag: name, value: value === undefined ? null : value, raw, children: [], closed: false };
        top().children.push(node);
        stack.push(node);
        continue;
      }
      let at = stack.length - 1;
      while (at > 0 && stack[at].tag !== name) at -= 1;
      if (at === 0) { pushText(raw); continue; } // a closing tag with nothing open
      stack[at].closed = true; // inner tags left open are shown literally
      stack.length = at;
    }
    pushText(text.slice(pos));
    return root;
  }

  function plainText(node) {
    if (typeof node === "string") return node;
    if (node.tag === "code") return node.literal;
    return node.children.map(plainText).join("");
  }

  function appendText(parent, text, ctx) {
    const lines = text.split(/\r?\n/);
    lines.forEach((line, i) => {
      if (i > 0) parent.appendChild(document.createElement("br"));
      if (ctx.inLink) { if (line) parent.appendChild(document.createTextNode(line)); return; }
      let last = 0;
      URL_IN_TEXT.lastIndex = 0;
      let m;
      while ((m = URL_IN_TEXT.exec(line)) !== null) {
        if (m.index > last) parent.appendChild(document.createTextNode(line.slice(last, m.index)));
        parent.appendChild(link(safeUrl(m[0]), m[0]));
        last = m.index + m[0].length;
      }
      if (last < line.length) parent.appendChild(document.createTextNode(line.slice(last)));
    });
  }

  function link(href, label) {
    const a = document.createElement("a");
    if (href) { a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer"; }
    a.textContent = label;
    return a;
  }

  function actionButton(className, testId, title, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = className;
    button.dataset.testid = testId;
    button.title = title;
    button.addEventListener("click", onClick);
    return button;
  }

  function renderChildren(parent, node, ctx) {
    for (const child of node.children) {
      if (typeof child === "string") appendText(parent, child, ctx);
      else renderNode(parent, child, ctx);
    }
  }

  function renderNode(parent, node, ctx) {
    if (!node.closed) {
      // Never closed: the opening tag is text, its content rendered as usual.
      appendText(parent, node.raw, ctx);
      renderChildren(parent, node, ctx);
      return;
    }
    let el;
    const text = plainText(node);
    switch (node.tag) {
      case "br":
        parent.appendChild(document.createElement("br"));
        return;
      case "code":
        el = document.createElement("pre");
        el.className = "bb-code";
        el.textContent = node.literal.replace(/^\r?\n/, "");
        parent.appendChild(el);
        return;
      case "b": case "i": case "u": case "s":
        el = document.createElement(node.tag);
        break;
      case "url": {
        const href = safeUrl(node.value !== null ? node.value : text);
        if (!href) { renderChildren(parent, node, ctx); return; }
        el = link(href, "");
        el.className = "bb-url";
        renderChildren(el, node, { ...ctx, inLink: true });
        parent.appendChild(el);
        return;
      }
      case "user": case "chat": {
        el = document.createElement("span");
        el.className = "bb-mention";
        el.dataset.testid = "mention";
        if (node.value !== null) el.dataset[node.tag === "user" ? "userId" : "chatId"] = node.value.trim();
        if (!text && node.tag === "user" && ctx.nameOf) el.textContent = ctx.nameOf(node.value);
        break;
      }
      case "send": {
        const value = node.value !== null ? node.value : text;
        el = actionButton("bb-action bb-send", "bb-send", "Send: " + value, () => ctx.onSend && ctx.onSend(value));
        el.dataset.value = value;
        break;
      }
      case "put": {
        const value = node.value !== null ? node.value : text;
        el = actionButton("bb-action bb-put", "bb-put", "Put in the input: " + value, () => ctx.onPut && ctx.onPut(value));
        el.dataset.value = value;
        break;
      }
      case "call": {
        const number = String(node.value !== null ? node.value : text).trim();
        el = /^\+?[0-9 ()\-]{3,25}$/.test(number) ? link(null, "") : document.createElement("span");
        if (el.tagName === "A") el.href = "tel:" + number.replace(/[^0-9+]/g, "");
        el.className = "bb-call";
        break;
      }
      case "color": {
        el = document.createElement("span");
        const color = safeColor(node.value);
        if (color) el.style.color = color;
        break;
      }
      case "size": {
        el = document.createElement("span");
        const size = parseInt(node.value, 10);
        if (Number.isFinite(size)) el.style.fontSize = Math.min(30, Math.max(8, size)) + "px";
        break;
      }
      case "quote":
        el = document.createElement("blockquote");
        el.className = "bb-quote";
        break;
      default:
        renderChildren(parent, node, ctx);
        return;
    }
    renderChildren(el, node, ctx);
    parent.appendChild(el);
  }

  /* Lines starting with ">>" and blocks between "------" lines are quotes. */
  function splitQuotes(text) {
    const lines = String(text).split(/\r?\n/);
    const dashLines = lines.filter((l) => /^-{6,}\s*$/.test(l)).length;
    let pairedDashes = dashLines - (dashLines % 2);
    const segments = [];
    let current = null;
    let inDash = false;
    const push = (quote, line) => {
      if (current && current.quote === quote) current.lines.push(line);
      else { current = { quote, lines: [line] }; segments.push(current); }
    };
    for (const line of lines) {
      if (/^-{6,}\s*$/.test(line) && pairedDashes > 0) {
        pairedDashes -= 1;
        inDash = !inDash;
        current = null;
        continue;
      }
      if (inDash) push(true, line);
      else if (line.startsWith(">>")) push(true, line.slice(2).replace(/^ /, ""));
      else push(false, line);
    }
    return segments;
  }

  /* Render `text` into `container`. ctx: {onSend(text), onPut(text), nameOf(userId)}. */
  function render(container, text, ctx) {
    ctx = ctx || {};
    for (const segment of splitQuotes(text || "")) {
      const target = segment.quote ? document.createElement("blockquote") : container;
      if (segment.quote) target.className = "bb-quote";
      renderChildren(target, parse(segment.lines.join("\n")), ctx);
      if (segment.quote) container.appendChild(target);
    }
    return container;
  }

  /* The text with its tags removed, for one-line previews. */
  function strip(text) {
    return plainText(parse(String(text || ""))).replace(/\s+/g, " ").trim();
  }

  window.VibeBB = { render, strip, safeUrl, safeColor };
})();
