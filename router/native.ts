import { createRequire } from 'node:module';
import { nativeAddonPath } from './paths.js';
import { toRouterError } from './errors.js';

// The addon's surface is declared once, next to the addon (native/index.d.ts).
import type * as Addon from '../native/index.js';

export type { ControlServer, CtlEvent, DataPlane, PeerStats, SessionStats } from '../native/index.js';

/** The addon's exports. */
export type NativeModule = typeof Addon;

/** Loads the real addon (`native/build/Release/ffr_native.node`). */
export function loadNative(path: string = nativeAddonPath()): NativeModule {
  const require = createRequire(import.meta.url);
  let mod: NativeModule;
  try {
    mod = require(path) as NativeModule;
  } catch (err) {
    throw new Error(
      `cannot load the native addon ${path} (build it with \`npm run build:native\`): ${(err as Error).message}`,
    );
  }
  for (const name of ['ControlServer', 'DataPlane', 'closeFd'] as const) {
    if (typeof mod[name] !== 'function') throw new Error(`native addon ${path} does not export ${name}`);
  }
  return mod;
}

/**
 * Wraps a native object so that every method throws RouterError instead of
 * the addon's `Error & { errno }`: the one place errors cross from C++.
 */
export function nativeBoundary<T extends object>(target: T, label: string): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        try {
          return (value as (...a: unknown[]) => unknown).apply(obj, args);
        } catch (err) {
          throw toRouterError(err, `${label}.${String(prop)}`);
        }
      };
    },
  });
}
