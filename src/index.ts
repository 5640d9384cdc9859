/** Library entry point: the dissection engine and its building blocks. */
export * from './alerts.js';
export * from './websocket/constants.js';
export * from './websocket/types.js';
