// Desired state: a pure function of the custom resource. CR in; each child of children.ts' table
// out, a complete server-side-apply configuration of exactly the fields this operator owns.
import { createHash } from 'node:crypto';
import type { V1ConfigMap, V1Deployment, V1OwnerReference, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import { API_VERSION, KIND, type KindCustomHttp, type ResolvedSpec } from './kindcustomhttp.js';

/** The field manager of every write this operator makes. */
export const FIELD_MANAGER = 'stimulated-peering';
export const MANAGED_BY = 'stimulated-peering';
export const APP_NAME = 'http-server';

export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_PART_OF = 'app.kubernetes.io/part-of';

export const CONFIG_MOUNT_PATH = '/config';
export const CONTAINER_NAME = 'http-server';
/**
 * The port the original server listens on, which the original operator's headless Service let
 * `hostports` lines such as `<cr-name>,8080` reach directly.
 */
export const ORIGINAL_SERVER_PORT = 8080;

/** The pod selector every child of the original Go operator used, whatever its CR: how its children are recognised. */
export const ORIGINAL_SELECTOR = { app: 'measutosh-http-server' };

/**
 * The user the server runs as. The restricted Pod Security Standard wants runAsNonRoot, which the
 * kubelet can check only against a numeric user: measutosh/http-server names its user (`appuser`,
 * made by Alpine's `adduser`, whose first user is uid 1000 in group 1000), and the project's
 * peer-server image runs as uid 1000 too. The server only reads /config (files of mode 0644) and
 * listens on 8080, so any non-root uid would do; this one is the images' own.
 */
export const SERVER_UID = 1000;

/**
 * What every pod gets, whatever the CR says: the restricted Pod Security Standard (non-root, no
 * privilege escalation, no capabilities, the runtime's default seccomp profile) and no
 * ServiceAccount token, since the server never calls the API. infra/reconciler's admission policy
 * refuses a Deployment from the functions without these.
 */
const podSecurity = {
  automountServiceAccountToken: false,
  securityContext: { runAsNonRoot: true, runAsUser: SERVER_UID, runAsGroup: SERVER_UID, seccompProfile: { type: 'RuntimeDefault' } },
} as const;
const containerSecurity = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };

function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 8);
}

/**
 * `value` if it fits in `max` characters; otherwise a prefix and a hash of the whole, so that two
 * long names differing only at the end still map to different results.
 */
export function fitName(value: string, max: number): string {
  if (value.length <= max) return value;
  return `${value.slice(0, max - 9).replace(/[^A-Za-z0-9]+$/, '')}-${shortHash(value)}`;
}

/**
 * The Deployment's and Service's name: the CR's name, as the original operator used, when it is a
 * valid Service name (DNS-1035 label); otherwise a valid name derived from it.
 */
export function workloadName(crName: string): string {
  if (/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(crName)) return crName;
  const sanitized = `s-${crName.replace(/[^a-z0-9-]/g, '-')}`.slice(0, 54).replace(/-+$/, '');
  return `${sanitized}-${shortHash(crName)}`;
}

export function configMapName(crName: string): string {
  return fitName(`${crName}-configmap`, 253);
}

/** Labels that select one CR's pods and no other CR's, whatever the length of its name. */
export function selectorLabels(crName: string): Record<string, string> {
  return { [LABEL_NAME]: APP_NAME, [LABEL_INSTANCE]: fitName(crName, 63) };
}

/** The same selector as a string, as `kubectl get -l` and the scale subresource write it. */
export function podSelector(crName: string): string {
  return Object.entries(selectorLabels(crName)).map(([key, value]) => `${key}=${value}`).join(',');
}

export function childLabels(crName: string): Record<string, string> {
  return { ...selectorLabels(crName), [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_PART_OF]: 'stimulated-peering' };
}

export function ownerReference(cr: KindCustomHttp): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: cr.metadata.name, uid: cr.metadata.uid, controller: true, blockOwnerDeletion: true };
}

function childMetadata(cr: KindCustomHttp, name: string) {
  return {
    name,
    namespace: cr.metadata.namespace,
    labels: childLabels(cr.metadata.name),
    ownerReferences: [ownerReference(cr)],
  };
}

export function desiredConfigMap(cr: KindCustomHttp, spec: ResolvedSpec): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: childMetadata(cr, configMapName(cr.metadata.name)),
    data: { ...spec.configMapData },
  };
}

export function desiredDeployment(cr: KindCustomHttp, spec: ResolvedSpec): V1Deployment {
  const name = cr.metadata.name;
  const probe = { httpGet: { path: '/ping', port: 'http' } };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(cr, workloadName(name)),
    spec: {
      replicas: spec.replicaCount,
      selector: { matchLabels: selectorLabels(name) },
      template: {
        // No config checksum here: the server re-reads /config/hostports when it changes, so a
        // ConfigMap edit must not roll the pods.
        metadata: { labels: childLabels(name) },
        spec: {
          ...podSecurity,
          containers: [
            {
              name: CONTAINER_NAME,
              image: spec.image,
              imagePullPolicy: 'IfNotPresent',
              ports: [{ name: 'http', containerPort: spec.containerPort, protocol: 'TCP' }],
              readinessProbe: { ...probe, periodSeconds: 10, failureThreshold: 3 },
              livenessProbe: { ...probe, initialDelaySeconds: 5, periodSeconds: 20, failureThreshold: 3 },
              volumeMounts: [{ name: 'config', mountPath: CONFIG_MOUNT_PATH, readOnly: true }],
              securityContext: containerSecurity,
              ...(spec.resources ? { resources: spec.resources } : {}),
            },
          ],
          volumes: [{ name: 'config', configMap: { name: configMapName(name) } }],
        },
      },
    },
  };
}

/**
 * `spec.port` forwarded to the pods' `http` port and, when it is another port, 8080 as well: the
 * original operator's Service was headless, so `hostports` written for it name `<cr-name>,8080`.
 * A second port on the same ClusterIP costs nothing more to create; a headless Service would be
 * cheaper still but could not forward `spec.port` to 8080.
 */
function servicePorts(spec: ResolvedSpec): NonNullable<V1Service['spec']>['ports'] {
  const ports = [{ name: 'http', port: spec.port, targetPort: 'http', protocol: 'TCP' }];
  if (spec.port !== ORIGINAL_SERVER_PORT) ports.push({ name: 'http-original', port: ORIGINAL_SERVER_PORT, targetPort: 'http', protocol: 'TCP' });
  return ports;
}

export function desiredService(cr: KindCustomHttp, spec: ResolvedSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(cr, workloadName(cr.metadata.name)),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(cr.metadata.name),
      ports: servicePorts(spec),
    },
  };
}

/** A voluntary disruption (a node drain, an upgrade) takes down at most one of the CR's pods at a time. */
export function desiredPodDisruptionBudget(cr: KindCustomHttp): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMetadata(cr, workloadName(cr.metadata.name)),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(cr.metadata.name) } },
  };
}
