/* What the person does on the chat page: write, edit, press keyboard buttons and BB links, create chats.
 *
 * `VibeActions(app)` binds these to the page's state and control-API helpers (chat.js) and returns them.
 * Every action goes through /_sandbox/act/…, the same user actions a test performs.
 */
(function () {
  "use strict";

  window.VibeActions = function (app) {
    const { state, $, act, toast, person, openDialog, loadDialogs } = app;
    const { el } = window.VibeRender;

    async function sendText(text, via) {
      if (!text.trim() || !state.chatId) return;
      await act("/act/messages", { userId: state.userId, chatId: state.chatId, text, via: via || "input" });
    }

    function putText(text) {
      const input = $("composer-input");
      input.value = text;
      input.focus();
      input.setSelectionRange(text.length, text.length);
      autoGrow();
    }

    async function pressButton(message, button, index) {
      if (button.LINK) {
        const url = window.VibeBB.safeUrl(button.LINK);
        if (url) window.open(url, "_blank", "noopener,noreferrer"); else toast("This button's link is not http(s) or portal-relative", true);
        return;
      }
      const action = String(button.ACTION || "").toUpperCase();
      const value = String(button.ACTION_VALUE ?? "");
      if (action === "PUT") return putText(value);
      if (action === "COPY") {
        try { await navigator.clipboard.writeText(value); toast("Copied: " + value); } catch (e) { toast("Copy: " + value); }
        return;
      }
      if (action === "CALL") return toast("Calling " + value + " (not in the sandbox)");
      if (action === "DIALOG") {
        const key = /^chat\d+$/i.test(value) ? "chat-" + value.slice(4) : "bot-" + value;
        if (state.dialogs.some((d) => d.key === key)) return openDialog(key);
        return toast("No such dialog here: " + value, true);
      }
      if (action !== "SEND" && !button.COMMAND) return toast("This button does nothing in the sandbox", true);
      if (button.COMMAND && String(button.BLOCK || "").toUpperCase() === "Y") {
        state.blockedKeyboards.set(message.id, JSON.stringify(message.keyboard)); // until the bot changes it
      }
      await act("/act/buttons", { userId: state.userId, messageId: message.id, index }).catch(() => {
        state.blockedKeyboards.delete(message.id);
      });
    }

    function startEdit(message) {
      state.editing = message.id;
      $("edit-banner").hidden = false;
      putText(message.text);
    }

    function cancelEdit() {
      if (state.editing === null) return;
      state.editing = null;
      $("edit-banner").hidden = true;
      $("composer-input").value = "";
    }

    async function submitComposer() {
      const input = $("composer-input");
      const text = input.value;
      if (!text.trim()) return;
      try {
        if (state.editing !== null) {
          await act(`/act/messages/${state.editing}/edit`, { userId: state.userId, text });
          cancelEdit();
        } else {
          await sendText(text);
        }
        input.value = "";
        autoGrow();
      } catch (error) { /* the toast said why; the text stays for another try */ }
    }

    function autoGrow() {
      const input = $("composer-input");
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight, 180) + "px";
    }

    function insertAtCursor(text) {
      const input = $("composer-input");
      const start = input.selectionStart ?? input.value.length;
      const end = input.selectionEnd ?? input.value.length;
      input.value = input.value.slice(0, start) + text + input.value.slice(end);
      input.focus();
      input.setSelectionRange(start + text.length, start + text.length);
      autoGrow();
    }

    /* ---- new group chat ---------------------------------------------------------------------------- */
    function openNewChatForm() {
      const form = $("new-chat-form");
      const box = $("new-chat-members");
      const others = [...state.people.values()].filter((p) => p.id !== state.userId && !p.gone);
      box.replaceChildren(...others.map((p) => el("label", { class: "member-option" },
        el("input", { type: "checkbox", value: String(p.id), "data-testid": "new-chat-member" }),
        " " + p.name + (p.isBot ? " (bot)" : ""))));
      form.hidden = false;
      $("new-chat-title").focus();
    }

    async function createChat(event) {
      event.preventDefault();
      const title = $("new-chat-title").value.trim();
      if (!title) return toast("Give the chat a title", true);
      const memberIds = [...document.querySelectorAll("#new-chat-members input:checked")].map((i) => Number(i.value));
      try {
        const data = await act("/act/chats", { userId: state.userId, title, memberIds });
        $("new-chat-form").hidden = true;
        $("new-chat-title").value = "";
        await loadDialogs();
        await openDialog("chat-" + data.chat.id);
      } catch (error) { /* toast shown */ }
    }

    return {
      sendText, putText, pressButton, startEdit, cancelEdit, submitComposer, autoGrow, insertAtCursor,
      openNewChatForm, createChat,
    };
  };
})();
