// Prints the kube-controller-manager flags that make the node's HPA controller the one the chart's values describe
// (autoscaling.hpa: syncPeriodSeconds, tolerance), as the local-k8s environment layers them: charts/kvflow/values.yaml,
// then each file of helmfiles/values/local-k8s.yaml's kvflowValues. One source of truth with the local scaler.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path) => parse(readFileSync(join(root, path), 'utf8')) ?? {};
const layers = [read('charts/kvflow/values.yaml')];
for (const file of read('helmfiles/values/local-k8s.yaml').kvflowValues ?? []) {
  layers.push(read(join('helmfiles', file)));
}
const hpa = Object.assign({}, ...layers.map((values) => values.autoscaling?.hpa ?? {}));
if (!(hpa.syncPeriodSeconds > 0) || !(hpa.tolerance >= 0)) {
  console.error(`autoscaling.hpa in the chart values is incomplete: ${JSON.stringify(hpa)}`);
  process.exit(1);
}
console.log(
  `--horizontal-pod-autoscaler-sync-period=${hpa.syncPeriodSeconds}s --horizontal-pod-autoscaler-tolerance=${hpa.tolerance}`,
);
