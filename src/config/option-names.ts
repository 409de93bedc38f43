// How an option key (camelCase) is spelled as a CLI flag and as an environment variable. Kept apart
// from the zod schema so that modules which only name an option in a message (the delivery worker's
// TLS loader) do not load zod into their thread.

export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function envName(key: string): string {
  return `UCW_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
