import { describe, expect, test } from 'bun:test';
import { prettyLine } from './pretty.ts';

const bare = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');

describe('pretty log lines', () => {
  test('a line reads time, level, message, then its fields as key=value', () => {
    const line = JSON.stringify({ level: 'info', time: '2026-12-07T16:21:24.193Z', pid: 7, reqId: 'abc-1', route: null, note: 'two words', msg: 'request' }) + '\n';
    expect(bare(prettyLine(line))).toBe('16:21:24.193 INFO  request pid=7 reqId=abc-1 route=null note="two words"\n');
  });

  test("an error's stack goes on the lines below, indented; the rest of the error stays on the line", () => {
    const line = JSON.stringify({ level: 'error', time: '2026-12-07T16:21:24.193Z', error: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at f (x.ts:1:1)' }, msg: 'failed' }) + '\n';
    expect(bare(prettyLine(line))).toBe('16:21:24.193 ERROR failed error={"type":"Error","message":"boom"}\n    Error: boom\n        at f (x.ts:1:1)\n');
  });

  test('what is no JSON object is left as it is', () => {
    expect(prettyLine('not json\n')).toBe('not json\n');
  });
});
