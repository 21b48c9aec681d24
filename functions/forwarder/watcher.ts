// List and watch one collection, turning every change into a queued event. A watch resumes from
// the last version it accepted, asks for bookmarks so that version stays fresh, lists again when
// the apiserver has forgotten it (410 Gone), and is restarted, with backoff, after any error or
// silence. When the queue is full it stops reading and resumes later from where it stopped.
import { CustomObjectsApi, KubernetesObjectApi, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { GROUP, KIND, PLURAL, VERSION } from '../core/kindcustomhttp.js';
import type { Logger } from '@aws-lambda-powertools/logger';
import { backoffDelay, NoAnswerError, sleep, withTimeout, type BackoffPolicy } from './backoff.js';
import type { ResettableConnections } from './connections.js';
import { collectionPath, eventFor, recordOf, resourceLabel, type Change, type ObjectRecord, type WatchedResource } from './mapping.js';
import type { ForwarderMetrics } from './metrics.js';
import type { PendingEvent, PublishQueue } from './queue.js';

export interface WatcherOptions {
  /** A watch that delivers nothing (not even a bookmark) for this long is restarted. */
  silenceMs: number;
  pageSize: number;
  backoff: BackoffPolicy;
  /** Whether the first list publishes a Synced event per object (CRs), or only fills the store (children). */
  syncOnFirstList: boolean;
}

interface ListPage {
  items: KubernetesObject[];
  metadata?: { resourceVersion?: string; continue?: string; _continue?: string };
}

type WatchEnd = 'closed' | 'gone' | 'silent' | 'backpressure' | 'error' | 'stopped';

const watchChanges: Record<string, Change> = { ADDED: 'Added', MODIFIED: 'Modified', DELETED: 'Deleted' };

function isGone(error: unknown): boolean {
  const e = error as { code?: number; statusCode?: number };
  return e.code === 410 || e.statusCode === 410;
}

export class ResourceWatcher {
  /** What was last seen of each object (`namespace/name`), to name deletions missed while not watching. */
  private store = new Map<string, ObjectRecord>();
  private resourceVersion: string | undefined;
  private listed = false;
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;
  private readonly label: string;

  constructor(
    private readonly resource: WatchedResource,
    private readonly connections: ResettableConnections,
    private readonly queue: PublishQueue,
    private readonly metrics: ForwarderMetrics,
    private readonly log: Logger,
    private readonly options: WatcherOptions,
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(connections);
    this.custom = connections.makeApiClient(CustomObjectsApi);
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
      let end: WatchEnd;
      let delivered = false;
      try {
        if (this.resourceVersion === undefined) await this.relist(signal);
        ({ end, delivered } = await this.watchOnce(signal));
      } catch (error) {
        end = isGone(error) ? 'gone' : error instanceof NoAnswerError ? 'silent' : 'error';
        this.log.warn('list or watch failed', { resource: this.label, end, error: String(error) });
      }
      if (signal.aborted || end === 'stopped') break;
      this.metrics.watchRestarts.inc({ resource: this.label, reason: end });
      if (end === 'gone') this.resourceVersion = undefined;
      if (end === 'silent') {
        // The shared connections probably went the same way: replace them too.
        this.log.warn('the apiserver was silent too long; restarting the watch on new connections', { resource: this.label, silenceMs: this.options.silenceMs });
        this.connections.reset();
      }
      if (end === 'backpressure') {
        await this.queue.waitForRoom(0.5, signal);
        continue;
      }
      // A watch that delivered something was healthy: when the server merely ended it (or asks
      // for a relist), start over at once. Anything else waits, longer after each failure in a row.
      if (delivered) failures = 0;
      if (!(delivered && (end === 'closed' || end === 'gone'))) await sleep(backoffDelay(failures++, this.options.backoff), signal);
    }
  }

  /** Lists the collection; publishes what is new or changed since the store, and what vanished. */
  private async relist(signal: AbortSignal): Promise<void> {
    const { kind } = this.resource;
    const seen = new Map<string, ObjectRecord>();
    let continueToken: string | undefined;
    let listVersion: string | undefined;
    do {
      const page = await withTimeout(this.listPage(continueToken), this.options.silenceMs, `list ${this.label}`);
      listVersion = page.metadata?.resourceVersion;
      continueToken = page.metadata?.continue || page.metadata?._continue || undefined;
      for (const object of page.items) {
        const record = recordOf(kind, object);
        if (!record) continue;
        const key = `${object.metadata!.namespace}/${object.metadata!.name}`;
        seen.set(key, record);
        this.metrics.observed.inc({ resource: kind, change: 'Synced' });
        const publish = this.listed ? this.store.get(key)?.resourceVersion !== record.resourceVersion : this.options.syncOnFirstList;
        if (publish) await this.enqueue(key, record, 'Synced', signal);
        if (signal.aborted) return;
      }
    } while (continueToken);
    for (const [key, record] of this.store) {
      if (!seen.has(key)) await this.enqueue(key, record, 'Deleted', signal);
    }
    this.store = seen;
    this.resourceVersion = listVersion;
    this.listed = true;
    this.log.info('listed', { resource: this.label, objects: seen.size, resourceVersion: listVersion });
  }

  /**
   * One page of the collection. CRs are listed with the custom-objects API, which returns the
   * server's JSON: the generic object API reads a CR list's metadata as an object's and drops its
   * `continue` token (client-node 2.0.1), which would end every list after its first page.
   */
  private async listPage(continueToken: string | undefined): Promise<ListPage> {
    const { kind, apiVersion, labelSelector, path } = this.resource;
    const limit = this.options.pageSize;
    if (kind === KIND) {
      const query = { group: GROUP, version: VERSION, plural: PLURAL, labelSelector, limit, _continue: continueToken };
      const list = path.namespace ? this.custom.listNamespacedCustomObject({ ...query, namespace: path.namespace }) : this.custom.listClusterCustomObject(query);
      return (await list) as ListPage;
    }
    return this.objects.list(apiVersion, kind, path.namespace, undefined, undefined, undefined, undefined, labelSelector, limit, continueToken);
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
      this.log.error('could not build an event', { resource: this.label, key, error: String(error) });
      return undefined;
    }
  }

  /** Takes one watch event; false when the queue is full and the event was not taken. */
  private accept(type: string, object: KubernetesObject): boolean {
    const change = watchChanges[type]!;
    const metadata = object.metadata!;
    const key = `${metadata.namespace}/${metadata.name}`;
    this.metrics.observed.inc({ resource: this.resource.kind, change });
    const record = recordOf(this.resource.kind, object);
    const event = record && !this.statusOnly(change, record, this.store.get(key)) && this.build(key, record, change);
    if (event) {
      const result = this.queue.offer(event);
      if (result === 'full') return false;
      if (result === 'coalesced') this.metrics.coalesced.inc();
    }
    if (record) {
      if (change === 'Deleted') this.store.delete(key);
      else this.store.set(key, record);
    }
    this.resourceVersion = metadata.resourceVersion ?? this.resourceVersion;
    return true;
  }

  /**
   * A CR modified without a new generation: its status or metadata changed, not its spec, and its
   * children follow from its spec alone. Its own status writes would otherwise each cost one more
   * reconcile. (A child's status does matter: the CR's status reports it.)
   */
  private statusOnly(change: Change, record: ObjectRecord, previous: ObjectRecord | undefined): boolean {
    return change === 'Modified' && this.resource.kind === KIND && record.generation !== undefined && record.generation === previous?.generation;
  }

  private async watchOnce(signal: AbortSignal): Promise<{ end: WatchEnd; delivered: boolean }> {
    const connection = this.connections.dedicated();
    const watch = new Watch(connection);
    // Watch aborts a request that has received nothing for `requestTimeoutMs` (a private 30 s in
    // client-node 2.0.1); it is our silence detector, set to our limit, which must exceed the
    // apiserver's bookmark interval so that a quiet but healthy watch is left alone.
    Object.assign(watch, { requestTimeoutMs: this.options.silenceMs });
    let end: WatchEnd | undefined;
    let delivered = false;
    let controller: AbortController | undefined;
    const stop = (why: WatchEnd) => {
      end ??= why;
      controller?.abort();
    };
    const onAbort = () => stop('stopped');
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const finished = new Promise<WatchEnd>((resolve, reject) => {
        const query = {
          allowWatchBookmarks: true,
          resourceVersion: this.resourceVersion,
          labelSelector: this.resource.labelSelector,
          // As client-go does: the server ends each watch after 5 to 10 minutes, and we resume.
          timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        };
        const onEvent = (type: string, object: KubernetesObject & { code?: number }) => {
          // Lines already buffered when we stopped are ignored: the next watch resumes from the
          // last version taken and the apiserver sends them again.
          if (end) return;
          delivered = true;
          this.metrics.watchActivity(this.label);
          if (type === 'BOOKMARK') this.resourceVersion = object.metadata?.resourceVersion ?? this.resourceVersion;
          else if (type === 'ERROR') stop(object.code === 410 ? 'gone' : 'error');
          else if (type in watchChanges && !this.accept(type, object)) stop('backpressure');
        };
        const onDone = (error: unknown) => {
          if (end) resolve(end);
          else if (!error) resolve('closed');
          else if ((error as Error).name === 'TimeoutError') resolve('silent');
          else if (isGone(error)) resolve('gone');
          else reject(error instanceof Error ? error : new Error(String(error)));
        };
        watch.watch(collectionPath(this.resource), query, onEvent, onDone).then((c) => {
          controller = c;
          if (end) c.abort();
        }, reject);
      });
      return { end: await finished, delivered };
    } finally {
      signal.removeEventListener('abort', onAbort);
      connection.close();
    }
  }
}
