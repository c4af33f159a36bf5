/**
 * `WWW-Authenticate` challenges (RFC 9110 §11.6.1): one or more `scheme param=value, …`, values
 * tokens or quoted strings. Registries send `Basic realm="…"` or
 * `Bearer realm="…",service="…",scope="…"[,error="…"]`.
 */
export interface Challenge {
  /** Lower-cased: `basic`, `bearer`. */
  scheme: string;
  /** Parameter names lower-cased. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const SPACE = /[ \t]*/y;

export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const skip = (re: RegExp) => { re.lastIndex = i; const m = re.exec(header); if (m) i = re.lastIndex; return m?.[0]; };
  const ws = () => skip(SPACE);
  while (i < header.length) {
    ws();
    if (header[i] === ',') { i++; continue; }
    const scheme = skip(TOKEN);
    if (!scheme) break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    for (;;) {
      ws();
      const start = i;
      const name = skip(TOKEN);
      ws();
      if (!name || header[i] !== '=') { i = start; break; } // the next challenge's scheme (or token68)
      i++;
      ws();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < header.length) i++;
          value += header[i++];
        }
        i++;
      } else {
        value = skip(TOKEN) ?? '';
      }
      challenge.params[name.toLowerCase()] = value;
      ws();
      if (header[i] === ',') i++;
    }
  }
  return out;
}
