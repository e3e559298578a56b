export { COMMANDS, VERSION, main } from './main.js';
export type { Io } from './context.js';
export { EXIT } from './errors.js';
export { deviceLogin, refresh, type Tokens } from './device-flow.js';
