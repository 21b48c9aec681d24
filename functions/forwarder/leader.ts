// Lease-based leader election (coordination.k8s.io/v1), as client-go's leaderelection does it:
// the holder renews the Lease every retry period; a candidate takes it once the holder has not
// renewed for a whole lease duration, measured on the candidate's own clock from when it last saw
// the record change (so clock skew between nodes does not matter). A leader that cannot renew
// within the renew deadline steps down before anyone else may take over.
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '@aws-lambda-powertools/logger';
import { NoAnswerError, sleep, withTimeout } from './backoff.js';

export interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Called when the apiserver did not answer in time, so the caller can replace its connections. */
  onNoAnswer?: () => void;
}

/** Runs while this instance leads; must stop when `signal` aborts. */
export type LeaderWork = (signal: AbortSignal) => Promise<void>;

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private observed: { holder?: string; renewTime?: number; at: number } = { at: 0 };
  /** True while this instance holds the Lease. */
  leading = false;
  /** When the Lease was last read or written successfully, for readiness. */
  lastContact = 0;

  constructor(
    config: KubeConfig,
    private readonly options: LeaseOptions,
    private readonly log: Logger,
  ) {
    this.api = config.makeApiClient(CoordinationV1Api);
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
      this.leading = true;
      this.log.info('became the leader', { lease: this.options.name, identity: this.options.identity });
      const leadership = new AbortController();
      const workEnded = new AbortController();
      let fault: Error | undefined;
      const working = work(leadership.signal)
        .then(
          () => {
            if (!leadership.signal.aborted) fault = new Error('the leader\'s work ended by itself');
          },
          (error: unknown) => {
            fault = new Error('the leader\'s work failed', { cause: error });
          },
        )
        .finally(() => workEnded.abort());
      await this.keepRenewing(AbortSignal.any([signal, workEnded.signal]));
      leadership.abort();
      await working;
      this.leading = false;
      // Given up only after the work has stopped (and drained), so two never publish at once.
      if (signal.aborted || fault) await this.release();
      if (fault) throw fault;
      if (!signal.aborted) this.log.warn('lost the lease; stopped publishing', { lease: this.options.name });
    }
  }

  /** Gives the Lease up at once, so a standby need not wait for it to expire. */
  async release(): Promise<void> {
    try {
      const lease = await this.read();
      if (lease?.spec?.holderIdentity !== this.options.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: new V1MicroTime() };
      await withTimeout(this.api.replaceNamespacedLease({ namespace: this.options.namespace, name: this.options.name, body: lease }), this.options.retryPeriodMs, 'release the lease');
      this.log.info('released the lease', { lease: this.options.name });
    } catch (error) {
      this.log.warn('could not release the lease; it will expire', { error: String(error) });
    }
  }

  private async keepRenewing(signal: AbortSignal): Promise<void> {
    let renewed = Date.now();
    while (!signal.aborted) {
      await sleep(this.options.retryPeriodMs, signal);
      if (signal.aborted) return;
      if (await this.tryAcquireOrRenew()) renewed = Date.now();
      else if (Date.now() - renewed > this.options.renewDeadlineMs) return;
    }
  }

  private jittered(): number {
    return this.options.retryPeriodMs * (1 + Math.random() * 0.2);
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await withTimeout(this.api.readNamespacedLease({ namespace: this.options.namespace, name: this.options.name }), this.options.retryPeriodMs, 'read the lease');
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  /** One round: true when this instance holds the Lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationMs, retryPeriodMs } = this.options;
    const now = new V1MicroTime();
    const leaseDurationSeconds = Math.ceil(leaseDurationMs / 1000);
    try {
      const lease = await this.read();
      if (!lease) {
        const spec = { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 };
        await withTimeout(this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } }), retryPeriodMs, 'create the lease');
        this.lastContact = Date.now();
        return true;
      }
      this.lastContact = Date.now();
      const spec = lease.spec ?? {};
      const renewTime = spec.renewTime ? new Date(spec.renewTime).getTime() : undefined;
      if (spec.holderIdentity !== this.observed.holder || renewTime !== this.observed.renewTime) {
        this.observed = { holder: spec.holderIdentity, renewTime, at: Date.now() };
      }
      const duration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
      const heldByOther = !!spec.holderIdentity && spec.holderIdentity !== identity && this.observed.at + duration > Date.now();
      if (heldByOther) return false;
      const taking = spec.holderIdentity !== identity;
      lease.spec = {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: taking ? now : spec.acquireTime,
        renewTime: now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (taking ? 1 : 0),
      };
      // The resourceVersion in the body makes this a compare-and-swap: of two candidates, one wins.
      await withTimeout(this.api.replaceNamespacedLease({ namespace, name, body: lease }), retryPeriodMs, 'renew the lease');
      this.observed = { holder: identity, renewTime: now.getTime(), at: Date.now() };
      return true;
    } catch (error) {
      const conflict = error instanceof ApiException && (error.code === 409 || error.code === 422);
      if (error instanceof NoAnswerError) this.options.onNoAnswer?.();
      if (!conflict) this.log.warn('could not read or renew the lease', { lease: name, error: String(error) });
      return false;
    }
  }
}
