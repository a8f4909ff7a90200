// Calls the reference's standup functions (standup_example.js, run as the page gives it) for a test:
// askTeam, then on a line from stdin collect and publishReport. Usage: standup_driver.mjs BOT_ID chatN ID,ID…
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import vm from 'node:vm'

const [botId, groupDialogId, ids] = process.argv.slice(2)
const userIds = ids.split(',')
const source = await readFile(new URL('./standup_example.js', import.meta.url), 'utf8')
// A script context, as the page's snippet expects: its functions become the context's globals.
const example = vm.createContext({ fetch, console, process })
vm.runInContext(source, example)

await example.askTeam(botId, userIds)
console.log('asked')
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
await lines.next() // the test says when the team has answered
await example.collect(botId, userIds)
await example.publishReport(botId, groupDialogId, userIds)
console.log('published')
process.exit(0)
