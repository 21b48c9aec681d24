// The thin effects layer: every call the reconciler makes to the Kubernetes API, and the mapping
// of API failures onto the three outcomes a function can have (retry, give up, or carry on).
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1ConfigMap,
  type V1Deployment,
  type V1Service,
} from '@kubernetes/client-node';
import { ClusterConfig } from './cluster-access.js';
import { FIELD_MANAGER } from './desired.js';
import { GROUP, PLURAL, VERSION, type KindCustomHttp, type KindCustomHttpStatus } from './kindcustomhttp.js';

/** The API refused or failed a request in a way a retry may fix (outage, 5xx, 429, timeout). */
export class TransientApiError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientApiError';
  }
}

/** The API rejected what we sent; retrying the same request cannot succeed. */
export class RejectedApiError extends Error {
  constructor(
    message: string,
    readonly code: number,
    /** The reasons of the Status' causes, e.g. `FieldValueInvalid` or `NamespaceTerminating`. */
    readonly causes: string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RejectedApiError';
  }

  /** Nothing can be created in a namespace being deleted; its CRs are going too. */
  get namespaceTerminating(): boolean {
    return this.causes.includes('NamespaceTerminating');
  }
}

interface ApiStatus {
  message?: string;
  details?: { causes?: Array<{ reason?: string }> };
}

function apiStatus(error: ApiException<unknown>): ApiStatus {
  try {
    const body = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    if (body && typeof body === 'object') return body as ApiStatus;
  } catch {
    // not a Status object
  }
  return {};
}

/** Wraps a failed call in the error class that says whether to retry. */
export function classifyApiError(error: unknown, what: string): Error {
  if (error instanceof ApiException) {
    const status = apiStatus(error);
    const message = `${what}: ${error.code} ${status.message ?? error.message}`;
    if (error.code === 429 || error.code === 408 || error.code >= 500) return new TransientApiError(message, { cause: error });
    const causes = (status.details?.causes ?? []).flatMap((cause) => (cause.reason ? [cause.reason] : []));
    return new RejectedApiError(message, error.code, causes, { cause: error });
  }
  // No HTTP answer at all: connection refused or reset, DNS, TLS, timeout.
  return new TransientApiError(`${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

const applyOptions = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const mergePatchOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const apply = { fieldManager: FIELD_MANAGER, force: true } as const;

export type ChildKind = 'Deployment' | 'Service' | 'ConfigMap';
export type ChildObject = V1Deployment | V1Service | V1ConfigMap;

export interface KindCustomHttpPage {
  items: KindCustomHttp[];
  continueToken?: string;
}

export interface EventRecord {
  /** Deterministic, so that concurrent reconciles reporting the same change create one Event. */
  name: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Every Kubernetes API call the functions make. */
export class KubeApi {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(private readonly config: KubeConfig) {
    this.apps = config.makeApiClient(AppsV1Api);
    this.core = config.makeApiClient(CoreV1Api);
    this.custom = config.makeApiClient(CustomObjectsApi);
  }

  private async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      // The config's request timeout fired: the connection may be dead, so the next request gets a new one.
      if (error instanceof Error && error.name === 'TimeoutError' && this.config instanceof ClusterConfig) this.config.resetConnections();
      throw classifyApiError(error, what);
    }
  }

  /** The CR, or undefined when it does not exist. */
  async getKindCustomHttp(namespace: string, name: string): Promise<KindCustomHttp | undefined> {
    return this.readOrUndefined(`get ${PLURAL} ${namespace}/${name}`, () =>
      this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name }) as Promise<KindCustomHttp>,
    );
  }

  async listKindCustomHttps(options: { namespace?: string; limit: number; continueToken?: string }): Promise<KindCustomHttpPage> {
    const query = { group: GROUP, version: VERSION, plural: PLURAL, limit: options.limit, _continue: options.continueToken };
    const list = (await this.call(`list ${PLURAL}`, () =>
      options.namespace
        ? this.custom.listNamespacedCustomObject({ ...query, namespace: options.namespace })
        : this.custom.listClusterCustomObject(query),
    )) as { items: KindCustomHttp[]; metadata?: { continue?: string } };
    return { items: list.items, continueToken: list.metadata?.continue || undefined };
  }

  async getChild(kind: ChildKind, namespace: string, name: string): Promise<ChildObject | undefined> {
    const what = `get ${kind} ${namespace}/${name}`;
    switch (kind) {
      case 'Deployment':
        return this.readOrUndefined(what, () => this.apps.readNamespacedDeployment({ namespace, name }));
      case 'Service':
        return this.readOrUndefined(what, () => this.core.readNamespacedService({ namespace, name }));
      case 'ConfigMap':
        return this.readOrUndefined(what, () => this.core.readNamespacedConfigMap({ namespace, name }));
    }
  }

  /** Server-side apply with the operator's field manager, taking over conflicting fields. */
  async applyChild<T extends ChildObject>(object: T): Promise<T> {
    const { name, namespace } = object.metadata as { name: string; namespace: string };
    const params = { name, namespace, body: object, ...apply };
    const what = `apply ${object.kind} ${namespace}/${name}`;
    switch (object.kind) {
      case 'Deployment':
        return (await this.call(what, () => this.apps.patchNamespacedDeployment(params, applyOptions))) as T;
      case 'Service':
        return (await this.call(what, () => this.core.patchNamespacedService(params, applyOptions))) as T;
      case 'ConfigMap':
        return (await this.call(what, () => this.core.patchNamespacedConfigMap(params, applyOptions))) as T;
      default:
        throw new Error(`not a child kind: ${object.kind}`);
    }
  }

  /** A JSON merge patch, for what server-side apply cannot do: remove entries another manager owns. */
  async mergePatchChild<T extends ChildObject>(object: T, patch: object): Promise<T> {
    const { name, namespace } = object.metadata as { name: string; namespace: string };
    const params = { name, namespace, body: patch, fieldManager: FIELD_MANAGER };
    const what = `patch ${object.kind} ${namespace}/${name}`;
    switch (object.kind) {
      case 'Service':
        return (await this.call(what, () => this.core.patchNamespacedService(params, mergePatchOptions))) as T;
      case 'ConfigMap':
        return (await this.call(what, () => this.core.patchNamespacedConfigMap(params, mergePatchOptions))) as T;
      default:
        throw new Error(`merge patches are not needed for ${object.kind}`);
    }
  }

  /** Deletes a child so it can be created anew; its pods go with it. */
  async deleteChild(kind: ChildKind, namespace: string, name: string): Promise<void> {
    const what = `delete ${kind} ${namespace}/${name}`;
    const propagationPolicy = 'Background';
    await this.readOrUndefined<object>(what, () => {
      switch (kind) {
        case 'Deployment':
          return this.apps.deleteNamespacedDeployment({ namespace, name, propagationPolicy });
        case 'Service':
          return this.core.deleteNamespacedService({ namespace, name, propagationPolicy });
        case 'ConfigMap':
          return this.core.deleteNamespacedConfigMap({ namespace, name, propagationPolicy });
      }
    });
  }

  /** Applies the status subresource; the status is the whole of what this field manager owns there. */
  async applyStatus(cr: KindCustomHttp, status: KindCustomHttpStatus): Promise<void> {
    const { namespace, name, uid } = cr.metadata;
    // The uid precondition stops a status meant for a deleted CR landing on a new one of the same name.
    const body = { apiVersion: cr.apiVersion, kind: cr.kind, metadata: { name, namespace, uid }, status };
    await this.call(`apply status of ${PLURAL} ${namespace}/${name}`, () =>
      this.custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, body, ...apply },
        applyOptions,
      ),
    );
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
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.call(`create Event ${namespace}/${event.name}`, () => this.core.createNamespacedEvent({ namespace, body }));
    } catch (error) {
      if (!(error instanceof RejectedApiError && error.code === 409)) throw error;
    }
  }

  private async readOrUndefined<T>(what: string, request: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.call(what, request);
    } catch (error) {
      if (error instanceof RejectedApiError && error.code === 404) return undefined;
      throw error;
    }
  }
}
