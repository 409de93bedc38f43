// Parses operator-written files (config, rules): JSON when it looks like JSON, for its precise
// messages, else YAML. YAML is a superset, so flow style such as `{version: 1}` still parses.

import { parse as parseYaml } from 'yaml';

export function parseJsonOrYaml(text: string): unknown {
  if (/^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // Not JSON: fall through to YAML, whose error is then the one reported.
    }
  }
  return parseYaml(text, { uniqueKeys: true });
}
