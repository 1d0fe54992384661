import type { ComponentType } from 'react';
import type { RouteObject } from 'react-router';

/** A route whose page (the module's default export) loads when first opened. */
export function page(path: string, load: () => Promise<{ default: ComponentType }>): RouteObject {
  return { path, lazy: async () => ({ Component: (await load()).default }) };
}
