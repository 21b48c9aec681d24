// The thin effects layer: every call the functions make to the Kubernetes API, each child kind
// through the same few generic calls driven by the table in children.ts.
import { childKindInfo, collectionPath, objectPath, type ChildKind, type ChildObject } from './children.js';
import { FIELD_MANAGER } from './desired.js';
import { ApiError, PatchType, type KubeClient } from './kube-client.js';
import { GROUP, PLURAL, VERSION, type KindCustomHttp, type KindCustomHttpStatus } from './kindcustomhttp.js';

const crCollection = { groupPath: `/apis/${GROUP}/${VERSION}`, plural: PLURAL };
/** Server-side apply as the operator, taking over fields others set (kubectl scale, a hand edit). */
const applyQuery = { fieldManager: FIELD_MANAGER, force: true };

export interface Page<T> {
  items: T[];
  continueToken?: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  limit: number;
  continueToken?: string;
}

export interface EventRecord {
  /** Deterministic, so that concurrent reconciles reporting the same change create one Event. */
  name: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

async function orUndefined<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (error) {
    if (error instanceof ApiError && error.code === 404) return undefined;
    throw error;
  }
}

/** Every Kubernetes API call the functions make. */
export class KubeApi {
  constructor(readonly client: KubeClient) {}

  /** The CR, or undefined when it does not exist. */
  getKindCustomHttp(namespace: string, name: string): Promise<KindCustomHttp | undefined> {
    return orUndefined(this.client.request<KindCustomHttp>(objectPath(crCollection, namespace, name)));
  }

  listKindCustomHttps(options: ListOptions): Promise<Page<KindCustomHttp>> {
    return this.list(collectionPath(crCollection, options.namespace), options);
  }

  getChild<K extends ChildKind>(kind: K, namespace: string, name: string): Promise<ChildObject<K> | undefined> {
    return orUndefined(this.client.request<ChildObject<K>>(objectPath(childKindInfo[kind], namespace, name)));
  }

  /** A page of one kind of child; items carry their apiVersion and kind, which lists leave out. */
  async listChildren<K extends ChildKind>(kind: K, options: ListOptions): Promise<Page<ChildObject<K>>> {
    const { apiVersion } = childKindInfo[kind];
    const page = await this.list<ChildObject<K>>(collectionPath(childKindInfo[kind], options.namespace), options);
    return { ...page, items: page.items.map((item) => ({ ...item, apiVersion, kind })) };
  }

  /** Server-side apply of a whole child; creates it when absent. */
  applyChild<K extends ChildKind>(kind: K, object: ChildObject<K>): Promise<ChildObject<K>> {
    const { namespace, name } = object.metadata as { namespace: string; name: string };
    return this.client.request(objectPath(childKindInfo[kind], namespace, name), { method: 'PATCH', query: applyQuery, body: object, contentType: PatchType.apply });
  }

  /** A JSON merge patch, for what server-side apply cannot do: remove entries another manager owns, replace a list whole. */
  mergePatchChild<K extends ChildKind>(kind: K, namespace: string, name: string, patch: object): Promise<ChildObject<K>> {
    return this.client.request(objectPath(childKindInfo[kind], namespace, name), {
      method: 'PATCH',
      query: { fieldManager: FIELD_MANAGER },
      body: patch,
      contentType: PatchType.merge,
    });
  }

  /** Deletes a child so it can be created anew (its pods go with it); only the version that was read. */
  async deleteChild(kind: ChildKind, namespace: string, name: string, uid: string): Promise<void> {
    const body = { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid } };
    await orUndefined(this.client.request(objectPath(childKindInfo[kind], namespace, name), { method: 'DELETE', body }));
  }

  /** Applies the status subresource; the status is the whole of what this field manager owns there. */
  async applyStatus(cr: KindCustomHttp, status: KindCustomHttpStatus): Promise<void> {
    const { namespace, name, uid } = cr.metadata;
    // The uid makes the apply fail (409) rather than land on a new CR of the same name.
    const body = { apiVersion: cr.apiVersion, kind: cr.kind, metadata: { name, namespace, uid }, status };
    await this.client.request(`${objectPath(crCollection, namespace, name)}/status`, { method: 'PATCH', query: applyQuery, body, contentType: PatchType.apply });
  }

  /** Records a Kubernetes Event on the CR; an Event already recorded under that name is left as it is. */
  async recordEvent(cr: KindCustomHttp, event: EventRecord, now: Date): Promise<void> {
    const { namespace, name, uid } = cr.metadata;
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: event.name, namespace },
      involvedObject: { apiVersion: cr.apiVersion, kind: cr.kind, name, namespace, uid, resourceVersion: cr.metadata.resourceVersion },
      type: event.type,
      reason: event.reason,
      message: event.message,
      source: { component: FIELD_MANAGER },
      reportingComponent: FIELD_MANAGER,
      reportingInstance: FIELD_MANAGER,
      firstTimestamp: now.toISOString(),
      lastTimestamp: now.toISOString(),
      count: 1,
    };
    try {
      await this.client.request(`/api/v1/namespaces/${namespace}/events`, { method: 'POST', body });
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 409)) throw error;
    }
  }

  private async list<T>(path: string, options: ListOptions): Promise<Page<T>> {
    const list = await this.client.request<{ items: T[]; metadata?: { continue?: string } }>(path, {
      query: { labelSelector: options.labelSelector, limit: options.limit, continue: options.continueToken },
    });
    return { items: list.items, continueToken: list.metadata?.continue || undefined };
  }
}
