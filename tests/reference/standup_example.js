// The reference's standup example, its three functions (shared/vibecode/bot-platform-reference.txt), verbatim
// except that BASE and the key come from the environment. Run by standup_driver.mjs; do not edit.
const BASE = process.env.VIBE_BASE_URL
const headers = { 'X-Api-Key': process.env.VIBE_KEY, 'Content-Type': 'application/json' }
// 1. Morning: a private question to each participant (dialogId = numeric userId)
async function askTeam(botId, userIds) {
for (const userId of userIds) {
await fetch(`${BASE}/bots/${botId}/messages`, {
method: 'POST',
headers,
body: JSON.stringify({
dialogId: String(userId),
fields: { message: 'Good morning! What did you do yesterday, what are you planning today, what is blocking you?' },
}),
})
}
}
// 2. During the day: collect answers via polling.
// Event fields are nested under ev.data (see "Events"): dialogId, message.text, user.id.
// In a private dialog ev.data.dialogId equals the sender's numeric ID.
const answers = {}
async function collect(botId, expectedUserIds) {
const res = await fetch(`${BASE}/bots/${botId}/events`, { headers })
const { data } = await res.json()
for (const ev of data.events ?? []) {
if (ev.type !== 'ONIMBOTV2MESSAGEADD') continue
const fromUser = String(ev.data.user.id)
// Private dialog: dialogId equals the sender ID
if (ev.data.dialogId === fromUser && expectedUserIds.includes(fromUser)) {
answers[fromUser] = ev.data.message.text
}
}
}
// 3. Publish the summary to the group chat (dialogId = chatXXX)
async function publishReport(botId, groupDialogId, userIds) {
const lines = userIds.map(id => `[b]${id}[/b]: ${answers[String(id)] ?? '— no answer'}`)
await fetch(`${BASE}/bots/${botId}/messages`, {
method: 'POST',
headers,
body: JSON.stringify({
dialogId: groupDialogId, // 'chat123'
fields: { message: `[b]Standup for today[/b]\n${lines.join('\n')}` },
}),
})
}
