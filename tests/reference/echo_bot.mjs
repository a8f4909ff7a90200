// The reference's "Full example: Echo bot" (shared/vibecode/bot-platform-reference.txt), verbatim except
// that BASE comes from the environment. Do not edit: test_reference_examples.py checks it against the reference.
const VIBE_KEY = process.env.VIBE_KEY
const BASE = process.env.VIBE_BASE_URL
// ── 1. Register the bot ─────────────────────────────────────────
const regRes = await fetch(`${BASE}/bots`, {
method: 'POST',
headers: { 'X-Api-Key': VIBE_KEY, 'Content-Type': 'application/json' },
body: JSON.stringify({
code: 'echo_bot',
name: 'Echo Bot',
type: 'bot',
color: 'AQUA',
eventMode: 'fetch',
workPosition: 'Repeats your messages'
})
})
const { data } = await regRes.json()
const BOT_ID = data.bot.id
console.log(`Bot registered with ID: ${BOT_ID}`)
// ── 2. Register slash commands ─────────────────────────────────
await fetch(`${BASE}/bots/${BOT_ID}/commands`, {
method: 'POST',
headers: { 'X-Api-Key': VIBE_KEY, 'Content-Type': 'application/json' },
body: JSON.stringify({
command: 'ping',
title: 'Ping',
description: 'Check whether the bot is alive'
})
})
await fetch(`${BASE}/bots/${BOT_ID}/commands`, {
method: 'POST',
headers: { 'X-Api-Key': VIBE_KEY, 'Content-Type': 'application/json' },
body: JSON.stringify({
command: 'help',
title: 'Help',
description: 'Show the command list'
})
})
// ── 3. Event polling loop ───────────────────────────────────────
let offset = undefined
async function poll() {
while (true) {
try {
const url = new URL(`${BASE}/bots/${BOT_ID}/events`)
if (offset !== undefined) url.searchParams.set('offset', String(offset))
const res = await fetch(url, {
headers: { 'X-Api-Key': VIBE_KEY }
})
const { data } = await res.json()
for (const event of data.events || []) {
await handleEvent(event)
}
if (data.nextOffset !== undefined) {
offset = data.nextOffset
}
} catch (err) {
console.error('Poll error:', err.message)
}
await new Promise(r => setTimeout(r, 3000))
}
}
async function handleEvent(event) {
const { data } = event
// ── Handle messages ────────────────────────────────────────
if (event.type === 'ONIMBOTV2MESSAGEADD') {
const dialogId = data.chat.dialogId
const text = data.message?.text || ''
const userName = data.user?.firstName || 'friend'
// Skip system messages and our own
if (data.message?.isSystem) return
if (data.message?.authorId === BOT_ID) return
// Show "thinking..."
await fetch(`${BASE}/bots/${BOT_ID}/typing`, {
method: 'POST',
headers: { 'X-Api-Key': VIBE_KEY, 'Content-Type': 'application/json' },
body: JSON.stringify({
dialogId,
statusMessageCode: 'IMBOT_AGENT_ACTION_THINKING'
})
})
// Add a reaction to the message
await fetch(`${BASE}/bots/${BOT_ID}/messages/${data.message.id}/reactions`, {
method: 'POST',
headers: { 'X-Api-Key': VIBE_KEY, 'Content-Type': 'application/json' },
body: JSON.stringify({ reaction: 'like' })
})
// Send an echo reply with a keyboard
await fetch(`${BASE}/bots/${BOT_ID}/messages`, {
method: 'POST',
headers: { 'X-Api-Key': VIBE_KEY, 'Content-Type': 'application/json' },
body: JSON.stringify({
dialogId,
fields: {
message: `${userName}, you wrote: [I]${text}[/I]`,
keyboard: [
{
TEXT: 'Repeat',
BG_COLOR_TOKEN: 'primary',
ACTION: 'SEND',
ACTION_VALUE: text || 'ping',
BLOCK: 'Y'
},
{
TEXT: 'Help',
BG_COLOR_TOKEN: 'secondary',
ACTION: 'SEND',
ACTION_VALUE: '/help',
DISPLAY: 'LINE'
}
]
}
})
})
}
// ── Handle commands ────────────────────────────────────────
if (event.type === 'ONIMBOTV2COMMANDADD') {
const dialogId = data.chat.dialogId
const command = data.command
if (command.command === 'ping') {
await fetch(`${BASE}/bots/${BOT_ID}/commands/${command.id}/answer`, {
method: 'POST',
headers: { 'X-Api-Key': VIBE_KEY, 'Content-Type': 'application/json' },
body: JSON.stringify({
messageId: data.message.id,
message: '[B]Pong![/B] The bot is working fine.'
})
})
}
if (command.command === 'help') {
await fetch(`${BASE}/bots/${BOT_ID}/commands/${command.id}/answer`, {
method: 'POST',
headers: { 'X-Api-Key': VIBE_KEY, 'Content-Type': 'application/json' },
body: JSON.stringify({
messageId: data.message.id,
message: '[B]Echo Bot — Commands[/B]\n\n/ping — check whether the bot is alive\n/help — show this list\n\nJust message me — I will repeat your message.'
})
})
}
}
// ── Handle reactions ───────────────────────────────────────
if (event.type === 'ONIMBOTV2REACTIONCHANGE') {
const dialogId = data.chat.dialogId
const userName = data.user?.firstName || 'Someone'
if (data.action === 'add') {
await fetch(`${BASE}/bots/${BOT_ID}/messages`, {
method: 'POST',
headers: { 'X-Api-Key': VIBE_KEY, 'Content-Type': 'application/json' },
body: JSON.stringify({
dialogId,
fields: {
message: `${userName} added a reaction: ${data.reaction}`,
system: true
}
})
})
}
}
// ── Join chat ──────────────────────────────────────────────
if (event.type === 'ONIMBOTV2JOINCHAT') {
await fetch(`${BASE}/bots/${BOT_ID}/messages`, {
method: 'POST',
headers: { 'X-Api-Key': VIBE_KEY, 'Content-Type': 'application/json' },
body: JSON.stringify({
dialogId: data.chat.dialogId,
fields: {
message: 'Hi! I am Echo Bot. Write me something and I will repeat it.\n\nCommands:\n[SEND=/ping]Ping[/SEND] | [SEND=/help]Help[/SEND]'
}
})
})
}
}
poll()
