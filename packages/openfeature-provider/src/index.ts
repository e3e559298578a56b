export { ConfigServiceProvider, type ProviderOptions } from './provider.js';
