export * from './local-stack.js';
export * from './server-processes.js';
export * from './service-process.js';
