// Turns the local stack's log lines into a readable account of what happens: what the forwarder
// published, what each reconcile changed, and how long each step took.
import type { StackLine } from './stack.js';

export interface ProgressEntry {
  at: number;
  text: string;
}

type Json = Record<string, unknown>;
const str = (value: unknown) => (typeof value === 'string' ? value : '');

/** Remembers when each event was published, to report how long its reconcile took. */
export class Progress {
  private readonly publishedAt = new Map<string, number>();

  /** The entry to show for a line, or undefined for noise (metrics, per-request chatter). */
  describe(line: StackLine): ProgressEntry | undefined {
    const json = line.json;
    if (!json) return undefined;
    const level = str(json.level);
    if (line.source === 'forwarder') return this.forwarderLine(line.at, json, level);
    if (line.source === 'bus') return busLine(line.at, json);
    return this.functionLine(line.at, json, level);
  }

  private forwarderLine(at: number, json: Json, level: string): ProgressEntry | undefined {
    if (json.message === 'published') {
      const key = str(json.eventKey);
      this.publishedAt.set(key, at);
      const child = json.kind ? ` ${str(json.kind)}` : '';
      return { at, text: `forwarder  published  ${str(json.namespace)}/${str(json.name)} ${str(json.change)}${child} (waited ${Number(json.queuedMs ?? 0)} ms in the queue)` };
    }
    if (level === 'WARN' || level === 'ERROR' || json.message === 'forwarder started') {
      return { at, text: `forwarder  ${level.toLowerCase()}: ${str(json.message)}${json.error ? `: ${str(json.error)}` : ''}` };
    }
    return undefined;
  }

  private functionLine(at: number, json: Json, level: string): ProgressEntry | undefined {
    if (json.message === 'reconciled') return this.reconciledLine(at, json);
    if (/^(created|updated|recreated) /.test(str(json.message))) {
      const change = json.change as { fields?: string[] } | undefined;
      const fields = change?.fields?.length ? ` (${change.fields.join(', ')})` : '';
      return { at, text: `reconcile    ${str(json.message)}${fields}` };
    }
    if (json.message === 'resync finished') {
      const report = json.report as Json;
      return { at, text: `resync     checked ${Number(report.checked)}, drifted ${Number(report.drifted)}, repaired ${Number(report.repaired)}, failed ${Number(report.failed)}` };
    }
    if (level === 'WARN' || level === 'ERROR') return { at, text: `functions  ${level.toLowerCase()}: ${str(json.message)}` };
    return undefined;
  }

  private reconciledLine(at: number, json: Json): ProgressEntry {
    const published = this.publishedAt.get(str(json.eventKey));
    const latency = published === undefined ? '' : ` (${at - published} ms after publishing)`;
    const ready = json.ready ? 'Ready' : 'not ready yet';
    return { at, text: `reconcile  ${str(json.namespace)}/${str(json.name)}: ${str(json.outcome)}, ${Number(json.changes)} change(s), ${ready}${latency}` };
  }
}

/** An invocation of the reconcile function by the emulated event source: its batch and what came back. */
function busLine(at: number, json: Json): ProgressEntry {
  const outcome = json.error
    ? `failed: ${str(json.error)}; its ${Number(json.messages)} message(s) come back after the visibility timeout`
    : Number(json.failed) > 0
      ? `${Number(json.failed)} message(s) reported failed come back after the visibility timeout`
      : `done in ${Number(json.durationMs)} ms`;
  return { at, text: `bus        reconcile invoked with ${Number(json.messages)} message(s), the oldest queued ${Number(json.oldestWaitMs)} ms: ${outcome}` };
}
