import type { SyntheticEvent } from 'react';

/** An image that does not load (a moved file, a CDN down, the demo data's made-up host) leaves no broken icon. */
export function hideBroken(e: SyntheticEvent<HTMLImageElement>): void {
  e.currentTarget.hidden = true;
}
