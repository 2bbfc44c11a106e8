// The URLs a client sends to: the ones it was given, then the nodes it discovered, each ranked
// for the workspace, with a short "down" mark after a failed connection so that the next
// requests go elsewhere first.

/** How long a URL that failed to connect is tried last. */
export const endpoint_down_ms = 2_000;

export interface Endpoint {
  url: string;
  /** The node id, when known (discovery, or an answer's X-Served-By from a node URL). */
  id: string | null;
  /** Given in the options (true) or found by discovery. */
  configured: boolean;
  /** Tried last until this time (ms since the epoch). */
  downUntil: number;
}

/** `http://host:port` with no trailing slash; throws TypeError on a string that is no URL. */
export function normaliseUrl(raw: string): string {
  const text = raw.trim();
  const u = new URL(/^https?:\/\//i.test(text) ? text : `http://${text}`);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`not an http(s) URL: ${raw}`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** 32-bit FNV-1a over UTF-16 code units. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export class Endpoints {
  private readonly list: Endpoint[];

  constructor(
    urls: string[],
    private readonly workspace: string,
    private readonly affinity: 'workspace' | 'ordered',
    private readonly clock: () => number = Date.now,
  ) {
    if (urls.length === 0) throw new TypeError('endpoints: at least one URL is needed');
    const seen = new Set<string>();
    this.list = [];
    for (const raw of urls) {
      const url = normaliseUrl(raw);
      if (seen.has(url)) continue;
      seen.add(url);
      this.list.push({ url, id: null, configured: true, downUntil: 0 });
    }
  }

  all(): readonly Endpoint[] {
    return this.list;
  }

  /**
   * The order to try them in: configured before discovered, each group ranked for the workspace
   * (or as given), and within that the ones not marked down first.
   */
  order(): Endpoint[] {
    const now = this.clock();
    const rank = (e: Endpoint): number => fnv1a(`${this.workspace}\u0000${e.id ?? e.url}`);
    const group = (configured: boolean): Endpoint[] => {
      const members = this.list.filter((e) => e.configured === configured);
      return this.affinity === 'ordered' && configured ? members : members.sort((a, b) => rank(b) - rank(a) || (a.url < b.url ? -1 : 1));
    };
    const ranked = [...group(true), ...group(false)];
    return [...ranked.filter((e) => e.downUntil <= now), ...ranked.filter((e) => e.downUntil > now)];
  }

  markDown(e: Endpoint): void {
    e.downUntil = this.clock() + endpoint_down_ms;
  }

  markUp(e: Endpoint): void {
    e.downUntil = 0;
  }

  /**
   * Adds the nodes of /api/v1/cluster/nodes (their `address` is host:port, reached with the
   * scheme of the URL that listed them). A configured URL naming a node's address takes its id.
   */
  addDiscovered(nodes: ReadonlyArray<{ id: string; address: string }>, scheme: string): void {
    for (const n of nodes) {
      let url: string;
      try {
        url = normaliseUrl(`${scheme}//${n.address}`);
      } catch {
        continue;
      }
      const known = this.list.find((e) => e.url === url);
      if (known !== undefined) {
        known.id = n.id;
        continue;
      }
      this.list.push({ url, id: n.id, configured: false, downUntil: 0 });
    }
  }
}
