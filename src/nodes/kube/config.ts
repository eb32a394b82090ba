// The config slices of the node kinds Kubernetes judges itself: kube-pod and kube-node.

import { z } from 'zod';

/** Nodes Kubernetes judges have no upstream pool Rampart wires them to. */
const noValidatorPool = z
  .custom<undefined>((v) => v === undefined, {
    message: 'Kubernetes judges these nodes itself: they have no validatorPool',
  })
  .optional();
/** A pod of a StatefulSet, ready when Kubernetes says so (its readiness probe). */
export const kubePodKindConfig = z.strictObject({
  kind: z.literal('kube-pod'),
  validatorPool: noValidatorPool,
});
/** A Kubernetes worker Node, ready when its kubelet reports Ready. */
export const kubeNodeKindConfig = z.strictObject({
  kind: z.literal('kube-node'),
  validatorPool: noValidatorPool,
});
