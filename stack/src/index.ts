// The runtime kit for local stacks: real nats-server and redis-server processes (single or clustered), the one
// launcher of kvflow's services, and the waits around them. Used by the demo, the benchmark and the tests; test
// fixtures (oracles, recorders, the Kubernetes API server) are in @kvflow/testkit.

export { type JaegerProcess, startJaeger } from './jaeger.js';
export { type MemoryCgroup, makeMemoryCgroup, quantityBytes } from './memory-cgroup.js';
export { ROOT } from './root.js';
export {
  findBinary,
  freePort,
  INSTALL_HINT,
  isListening,
  type NatsProcess,
  type RedisClusterNodeProcess,
  redisCli,
  requireBinary,
  ServerExitedError,
  type ServerProcess,
  startNatsServer,
  startRedisClusterNode,
  startRedisServer,
} from './server-process.js';
export {
  type NatsCluster,
  type NatsServer,
  type RedisCluster,
  type RedisServer,
  startNats,
  startNatsCluster,
  startRedis,
  startRedisCluster,
} from './servers.js';
export {
  lastError,
  launchService,
  type ServiceExit,
  type ServiceOptions,
  type ServiceProcess,
} from './service.js';
export { httpReady, waitUntil } from './wait.js';
