// List and watch one collection (its metadata, or whole objects where their status matters),
// turning every change worth it into a queued event. A watch resumes from the last version it
// accepted, asks for bookmarks so that version stays fresh, lists again when the apiserver has
// forgotten it (410 Gone), and is restarted, with backoff, after any error or silence (the
// KubeClient's idle timeout). When the queue is full it stops reading and resumes later from where
// it stopped.
import type { Logger } from '@aws-lambda-powertools/logger';
import { sleep, type BackoffPolicy } from '../core/backoff.js';
import type { KubeClient } from '../core/kube-client.js';
import { eventFor, objectKey, resourceLabel, type Change, type ObjectRecord, type WatchedObject, type WatchedResource } from './mapping.js';
import type { ForwarderMetrics } from './metrics.js';
import type { PendingEvent, PublishQueue } from './queue.js';
import { decideChange, failureEnd, nextStep, parseWatchLine, publishListed, remember, vanished, type Store, type WatchEnd } from './watch-decisions.js';

/** Metadata only, as controller-runtime's metadata watches ask: no spec, data or status crosses the wire. */
export const LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export const WATCH_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const WHOLE = 'application/json';

export interface WatcherOptions {
  /** A watch that delivers nothing (not even a bookmark) for this long is restarted. */
  silenceMs: number;
  pageSize: number;
  backoff: BackoffPolicy;
}

interface MetadataList {
  /** null, not empty, when there are none. */
  items: WatchedObject[] | null;
  metadata?: { resourceVersion?: string; continue?: string };
}

export class ResourceWatcher {
  /** What was last seen of each object, to name deletions missed while not watching. */
  private store: Store = new Map();
  private resourceVersion: string | undefined;
  private listed = false;
  private readonly label: string;

  constructor(
    private readonly resource: WatchedResource,
    private readonly client: KubeClient,
    private readonly queue: PublishQueue,
    private readonly metrics: ForwarderMetrics,
    private readonly log: Logger,
    private readonly options: WatcherOptions,
  ) {
    this.label = resourceLabel(resource);
  }

  /** True once the first list is done. */
  get synced(): boolean {
    return this.listed;
  }

  /** Lists and watches until `signal` aborts; never gives up on its own. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const { end, delivered } = await this.listAndWatch(signal);
      if (signal.aborted || end === 'stopped') break;
      this.metrics.watchRestarts.inc({ resource: this.label, reason: end });
      const step = nextStep(end, delivered, failures, this.options.backoff);
      failures = step.failures;
      if (step.relist) this.resourceVersion = undefined;
      if (step.wait === 'room') await this.queue.waitForRoom(0.5, signal);
      else if (step.wait > 0) await sleep(step.wait, signal);
    }
  }

  private async listAndWatch(signal: AbortSignal): Promise<{ end: WatchEnd; delivered: boolean }> {
    try {
      if (this.resourceVersion === undefined) await this.relist(signal);
      return await this.watchOnce(signal);
    } catch (error) {
      if (signal.aborted) return { end: 'stopped', delivered: false };
      const end = failureEnd(error);
      this.log.warn('list or watch failed', { resource: this.label, end, error });
      return { end, delivered: false };
    }
  }

  /** Lists the collection; publishes what is new or changed since the store, and what vanished. */
  private async relist(signal: AbortSignal): Promise<void> {
    const firstList = !this.listed;
    const listed: Store = new Map();
    const resourceVersion = await this.listPages(signal, async (object) => {
      const { key, record } = decideChange(this.resource.kind, 'Added', object, undefined);
      if (!record) return;
      listed.set(key, record);
      this.metrics.observed.inc({ resource: this.resource.kind, change: 'Synced' });
      if (publishListed(this.resource.kind, record, this.store.get(key), firstList)) await this.enqueue(key, record, 'Synced', signal);
    });
    for (const [key, record] of vanished(this.store, listed)) await this.enqueue(key, record, 'Deleted', signal);
    if (!signal.aborted) this.listedAt(listed, resourceVersion);
  }

  /** Hands every listed object to `take`, page by page; resolves with the list's resourceVersion. */
  private async listPages(signal: AbortSignal, take: (object: WatchedObject) => Promise<void>): Promise<string | undefined> {
    const accept = this.resource.whole ? WHOLE : LIST_ACCEPT;
    let continueToken: string | undefined;
    while (!signal.aborted) {
      const query = { labelSelector: this.resource.labelSelector, limit: this.options.pageSize, continue: continueToken };
      const { items, metadata = {} } = await this.client.request<MetadataList>(this.resource.collection, { query, accept, signal });
      for (const item of items ?? []) await take(item);
      continueToken = metadata.continue || undefined;
      if (!continueToken) return metadata.resourceVersion;
    }
    return undefined;
  }

  /** A whole list was taken: watch from its version, knowing what it held. */
  private listedAt(listed: Store, resourceVersion: string | undefined): void {
    this.store = listed;
    this.resourceVersion = resourceVersion;
    this.listed = true;
    this.metrics.watchActivity(this.label);
    this.log.info('listed', { resource: this.label, objects: listed.size, resourceVersion });
  }

  private async enqueue(key: string, record: ObjectRecord, change: Change, signal: AbortSignal): Promise<void> {
    const event = this.build(key, record, change);
    if (event && (await this.queue.put(event, signal)) === 'coalesced') this.metrics.coalesced.inc();
  }

  private build(key: string, record: ObjectRecord, change: Change): PendingEvent | undefined {
    const [namespace, name] = key.split('/') as [string, string];
    try {
      return eventFor(this.resource.kind, namespace, name, record, change);
    } catch (error) {
      // Only an object the contract cannot name lands here; skipping it must not stop the watch.
      this.log.error('could not build an event', { resource: this.label, key, error });
      return undefined;
    }
  }

  /** Takes one watched change; false when the queue is full and the change was not taken. */
  private accept(change: Change, object: WatchedObject): boolean {
    const metadata = object.metadata ?? {};
    this.metrics.observed.inc({ resource: this.resource.kind, change });
    const decision = decideChange(this.resource.kind, change, object, this.store.get(objectKey(metadata)));
    const event = decision.publish && this.build(decision.key, decision.record!, change);
    if (event) {
      const result = this.queue.offer(event);
      if (result === 'full') return false;
      if (result === 'coalesced') this.metrics.coalesced.inc();
    }
    remember(this.store, change, decision);
    this.resourceVersion = metadata.resourceVersion ?? this.resourceVersion;
    return true;
  }

  /** One watch, from the last version taken, until the server ends it or we stop it. */
  private async watchOnce(signal: AbortSignal): Promise<{ end: WatchEnd; delivered: boolean }> {
    const stopping = new AbortController();
    let end: WatchEnd | undefined;
    let delivered = false;
    const stop = (why: WatchEnd) => {
      end ??= why;
      stopping.abort();
    };
    const onLine = (line: string) => {
      // Lines already read when we stopped are ignored: the next watch resumes from the last
      // version taken and the apiserver sends them again.
      if (end) return;
      delivered = true;
      this.metrics.watchActivity(this.label);
      const why = this.take(line);
      if (why) stop(why);
    };
    const query = {
      watch: true,
      allowWatchBookmarks: true,
      resourceVersion: this.resourceVersion,
      labelSelector: this.resource.labelSelector,
      // As client-go does: the server ends each watch after 5 to 10 minutes, and we resume.
      timeoutSeconds: 300 + Math.floor(Math.random() * 300),
    };
    try {
      await this.client.stream(this.resource.collection, { query, accept: this.resource.whole ? WHOLE : WATCH_ACCEPT, idleTimeoutMs: this.options.silenceMs, onLine, signal: AbortSignal.any([signal, stopping.signal]) });
    } catch (error) {
      // Our own stop aborts the stream; any other failure is the watch's end.
      if (!end && !signal.aborted) throw error;
    }
    return { end: signal.aborted ? 'stopped' : (end ?? 'closed'), delivered };
  }

  /** Handles one watch line; returns why the watch must end, if it must. */
  private take(line: string): WatchEnd | undefined {
    const event = parseWatchLine(line);
    switch (event.type) {
      case 'change':
        return this.accept(event.change, event.object) ? undefined : 'backpressure';
      case 'bookmark':
        this.resourceVersion = event.resourceVersion ?? this.resourceVersion;
        return undefined;
      case 'error':
        this.log.warn('the watch ended with an error', { resource: this.label, ...event.status });
        return event.end;
      case 'unknown':
        this.log.warn('ignored a watch event of an unknown type', { resource: this.label, line: event.raw });
        return undefined;
    }
  }
}
