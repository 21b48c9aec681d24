// Lease-based leader election (coordination.k8s.io/v1), as client-go's leaderelection does it:
// the holder renews the Lease every retry period; a candidate takes it once the holder has not
// renewed for a whole lease duration, measured on the candidate's own clock from when it last saw
// the record change (so clock skew between nodes does not matter). A leader that cannot renew
// within the renew deadline steps down before anyone else may take over: each of its requests
// times out at that deadline.
import type { Logger } from '@aws-lambda-powertools/logger';
import { sleep } from '../core/backoff.js';
import { ApiError, type KubeClient } from '../core/kube-client.js';

export interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** Runs while this instance leads; must stop when `signal` aborts. */
export type LeaderWork = (signal: AbortSignal) => Promise<void>;

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** A MicroTime as the apiserver writes it: RFC 3339 with exactly six fractional digits. */
export function microTime(at: Date = new Date()): string {
  return at.toISOString().replace(/Z$/, '000Z');
}

export class LeaderElector {
  private observed: { holder?: string; renewTime?: string; at: number } = { at: 0 };
  /** True while this instance holds the Lease. */
  leading = false;
  /** When the Lease was last read or written successfully, for readiness. */
  lastContact = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaseOptions,
    private readonly log: Logger,
  ) {}

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases`;
  }

  /**
   * Campaigns, leads while it can, and campaigns again, until `signal` aborts; then releases the
   * Lease. Work that ends by itself while leading is a fault: the Lease is released and the error
   * thrown, so the instance is restarted rather than holding the Lease while doing nothing.
   */
  async run(signal: AbortSignal, work: LeaderWork): Promise<void> {
    while (!signal.aborted) {
      while (!signal.aborted && !(await this.tryAcquireOrRenew())) await sleep(this.jittered(), signal);
      if (signal.aborted) break;
      const fault = await this.lead(signal, work);
      // Given up only after the work has stopped (and drained), so two never publish at once.
      if (signal.aborted || fault) await this.release();
      if (fault) throw fault;
      if (!signal.aborted) this.log.warn('lost the lease; stopped publishing', { lease: this.options.name });
    }
  }

  /** One leadership: the work runs until the Lease is lost, `signal` aborts or the work ends (a fault, returned). */
  private async lead(signal: AbortSignal, work: LeaderWork): Promise<Error | undefined> {
    this.leading = true;
    this.log.info('became the leader', { lease: this.options.name, identity: this.options.identity });
    const leadership = new AbortController();
    const workEnded = new AbortController();
    let fault: Error | undefined;
    const working = work(leadership.signal)
      .then(
        () => {
          if (!leadership.signal.aborted) fault = new Error("the leader's work ended by itself");
        },
        (error: unknown) => {
          fault = new Error("the leader's work failed", { cause: error });
        },
      )
      .finally(() => workEnded.abort());
    await this.keepRenewing(AbortSignal.any([signal, workEnded.signal]));
    leadership.abort();
    await working;
    this.leading = false;
    return fault;
  }

  /** Gives the Lease up at once, so a standby need not wait for it to expire. */
  async release(): Promise<void> {
    try {
      const lease = await this.read(this.options.retryPeriodMs);
      if (lease?.spec?.holderIdentity !== this.options.identity) return;
      const { holderIdentity: _, ...spec } = lease.spec;
      await this.write('PUT', { ...lease, spec: { ...spec, leaseDurationSeconds: 1, renewTime: microTime() } }, this.options.retryPeriodMs);
      this.log.info('released the lease', { lease: this.options.name });
    } catch (error) {
      this.log.warn('could not release the lease; it will expire', { lease: this.options.name, error });
    }
  }

  private async keepRenewing(signal: AbortSignal): Promise<void> {
    let renewed = Date.now();
    while (!signal.aborted) {
      await sleep(this.options.retryPeriodMs, signal);
      if (signal.aborted) return;
      if (await this.tryAcquireOrRenew(renewed + this.options.renewDeadlineMs)) renewed = Date.now();
      else if (Date.now() - renewed > this.options.renewDeadlineMs) return;
    }
  }

  private jittered(): number {
    return this.options.retryPeriodMs * (1 + Math.random() * 0.2);
  }

  private async read(timeoutMs?: number): Promise<Lease | undefined> {
    try {
      return await this.client.request<Lease>(`${this.path}/${this.options.name}`, { timeoutMs });
    } catch (error) {
      if (error instanceof ApiError && error.code === 404) return undefined;
      throw error;
    }
  }

  private write(method: 'POST' | 'PUT', lease: Lease, timeoutMs?: number): Promise<Lease> {
    const path = method === 'POST' ? this.path : `${this.path}/${this.options.name}`;
    return this.client.request<Lease>(path, { method, body: lease, timeoutMs });
  }

  /** Whether someone else holds the Lease and has renewed it within its duration, on our clock. */
  private heldByOther(spec: LeaseSpec): boolean {
    if (spec.holderIdentity !== this.observed.holder || spec.renewTime !== this.observed.renewTime) {
      this.observed = { holder: spec.holderIdentity, renewTime: spec.renewTime, at: Date.now() };
    }
    const durationMs = (spec.leaseDurationSeconds ?? this.options.leaseDurationMs / 1000) * 1000;
    return !!spec.holderIdentity && spec.holderIdentity !== this.options.identity && this.observed.at + durationMs > Date.now();
  }

  /** The Lease's spec once this instance has renewed it, or taken it over. */
  private renewed(spec: LeaseSpec, now: string): LeaseSpec {
    const taking = spec.holderIdentity !== this.options.identity;
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      acquireTime: taking ? now : spec.acquireTime,
      renewTime: now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (taking ? 1 : 0),
    };
  }

  /**
   * One round: true when this instance holds the Lease afterwards. A leader passes its renew
   * deadline: no request of the round may outlast it.
   */
  async tryAcquireOrRenew(deadline?: number): Promise<boolean> {
    const { namespace, name, identity, leaseDurationMs } = this.options;
    const timeout = () => (deadline === undefined ? undefined : Math.max(1, deadline - Date.now()));
    const now = microTime();
    const leaseDurationSeconds = Math.ceil(leaseDurationMs / 1000);
    try {
      const lease = await this.read(timeout());
      this.lastContact = Date.now();
      if (!lease) {
        const spec = { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 };
        await this.write('POST', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec }, timeout());
        return true;
      }
      const spec = lease.spec ?? {};
      if (this.heldByOther(spec)) return false;
      // The resourceVersion in the body makes this a compare-and-swap: of two candidates, one wins.
      await this.write('PUT', { ...lease, spec: this.renewed(spec, now) }, timeout());
      this.observed = { holder: identity, renewTime: now, at: Date.now() };
      return true;
    } catch (error) {
      const conflict = error instanceof ApiError && (error.code === 409 || error.code === 422);
      if (!conflict) this.log.warn('could not read or renew the lease', { lease: name, error });
      return false;
    }
  }
}
