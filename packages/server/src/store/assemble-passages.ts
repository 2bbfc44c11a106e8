// Context assembly at the passage level (RANKING.md, "Assembly by passages"): the best passages
// for the query under the token budget, several from one document when they score, adjacent
// passages of a document merged into one piece under a header naming the document and the lines.
// The hard rules are those of assemble.ts: tokens(context) <= max_tokens, documents.length <=
// max_documents, total_tokens == tokens(context).

import { PathMatcher } from './glob.ts';
import { bytesToVector } from './op.ts';
import type { DocumentSummary, Reader } from './read.ts';
import { aggregatePassages, fuseScores, fusion_weight_lexical, fusion_weight_vector } from './search.ts';
import type { PassageHit, PassageSearcher, SearchHit } from './search.ts';
import { countTokens, countTokensAsync, slice_ms_max, truncateToTokensAsync } from './tokens.ts';

/** Passages ranked before packing: max(passages_min, max_documents * passages_per_document). */
export const passages_min = 200;
export const passages_per_document = 20;
/** With path patterns, rank more passages since many may be filtered out. */
export const passages_filtered = 1000;
/** Vector hits whose documents bring their best passages: max(50, 5 * max_documents), as at the document level. */
export const vector_depth_min = 50;
const piece_separator = '\n\n';

/** What passage assembly needs from the store. */
export interface PassageAssembleSource {
  readonly passageSearcher: PassageSearcher;
  searchHits(ws: string, query: string, k: number, mode: 'lexical' | 'vector', vector?: Float32Array): Promise<SearchHit[]>;
  queryVector(ws: string, query: string): Promise<Float32Array | null>;
}

export interface PassageAssembleRequest {
  query: string;
  max_tokens: number;
  max_documents: number;
  include_patterns: string[];
  exclude_patterns: string[];
}

/** A passage an assembled document is made of (offsets and lines in the document). */
export interface AssembledPassage {
  n: number;
  start: number;
  end: number;
  line_start: number;
  line_end: number;
  tokens: number;
  /** Set when the passage was cut to the budget: the tokens it had. */
  truncated_from?: number;
}

export interface PassageAssembledDocument {
  id: string;
  path: string | null;
  content: string;
  language: string | null;
  relevance_score: number;
  tokens: number;
  inclusion_reason: string;
  passages: AssembledPassage[];
}

interface Candidate extends PassageHit {
  fused: number;
  /** 1-based rank among the query's passages. */
  rank: number;
}

interface Taken {
  c: Candidate;
  /** The passage's text as included (cut when truncated_from is set). */
  text: string;
  tokens: number;
  truncated_from?: number;
}

interface DocState {
  doc: DocumentSummary & { vector: Buffer | null };
  /** doc.vector decoded. */
  vector: Float32Array | null;
  taken: Taken[];
  count: number;
  notes: string;
}

/** Cosine similarity of two vectors; 0 when their lengths differ or either is all zeros. */
export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0, y = b[i] ?? 0;
    dot += x * y; na += x * x; nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** Resolves at once, or after an event loop turn when slice_ms_max has passed since the last turn. */
export function slicer(): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < slice_ms_max) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    since = performance.now();
  };
}

function where(d: Pick<DocumentSummary, 'id' | 'path'>): string {
  return d.path ?? d.id;
}

/** The header of a piece: the whole document's, or with its line range. */
function header(d: Pick<DocumentSummary, 'id' | 'path'>, lines: [number, number] | null): string {
  return lines === null ? `--- ${where(d)} ---\n` : `--- ${where(d)} (lines ${lines[0]}-${lines[1]}) ---\n`;
}

function lineEndOf(text: string, line_start: number): number {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return line_start + (body.match(/\n/g)?.length ?? 0);
}

interface Rendered {
  context: string;
  documents: PassageAssembledDocument[];
}

/** Pieces in document order (by their best passage), a document's passages in text order, adjacent ones merged. */
function render(order: string[], docs: Map<string, DocState>): Rendered {
  const pieces: string[] = [];
  const documents: PassageAssembledDocument[] = [];
  for (const id of order) {
    const s = docs.get(id);
    if (s === undefined || s.taken.length === 0) continue;
    const taken = [...s.taken].sort((a, b) => a.c.n - b.c.n);
    const texts: string[] = [];
    const runs: string[] = [];
    let i = 0;
    while (i < taken.length) {
      let j = i;
      let text = (taken[i] as Taken).text;
      while (j + 1 < taken.length && (taken[j + 1] as Taken).c.n === (taken[j] as Taken).c.n + 1 && (taken[j] as Taken).truncated_from === undefined) {
        j++;
        text += (taken[j] as Taken).text;
      }
      const first = (taken[i] as Taken).c;
      const last = taken[j] as Taken;
      const whole = first.n === 0 && last.c.n === s.count - 1 && last.truncated_from === undefined;
      const lines: [number, number] = [first.line_start, last.truncated_from === undefined ? last.c.line_end : lineEndOf(text, first.line_start)];
      pieces.push(header(s.doc, whole ? null : lines) + text);
      texts.push(text);
      runs.push(first.n === last.c.n ? `${first.n + 1}` : `${first.n + 1}-${last.c.n + 1}`);
      i = j + 1;
    }
    const best = taken.reduce((m, t) => (t.c.fused > m.c.fused ? t : m));
    const ranges = taken.map((t) => `${t.c.line_start}-${t.truncated_from === undefined ? t.c.line_end : lineEndOf(t.text, t.c.line_start)}`);
    const cut = taken.find((t) => t.truncated_from !== undefined);
    documents.push({
      id: s.doc.id,
      path: s.doc.path,
      content: texts.join(piece_separator),
      language: s.doc.language,
      relevance_score: Number(best.c.fused.toFixed(6)),
      tokens: taken.reduce((n, t) => n + t.tokens, 0),
      inclusion_reason: [
        `passage${taken.length > 1 ? 's' : ''} ${runs.join(', ')} of ${s.count} (lines ${ranges.join(', ')})`,
        `best passage #${best.c.rank}`,
        s.notes,
        ...(cut === undefined ? [] : [`passage ${cut.c.n + 1} truncated to ${cut.tokens} of ${cut.truncated_from} tokens`]),
      ].filter((x) => x !== '').join(', '),
      passages: taken.map((t) => ({
        n: t.c.n, start: t.c.start, end: t.c.start + t.text.length, line_start: t.c.line_start,
        line_end: t.truncated_from === undefined ? t.c.line_end : lineEndOf(t.text, t.c.line_start), tokens: t.tokens,
        ...(t.truncated_from === undefined ? {} : { truncated_from: t.truncated_from }),
      })),
    });
  }
  return { context: pieces.join(piece_separator), documents };
}

export interface PassageAssembleOptions {
  /** Passages cut below this many tokens are not worth including (assemble.ts truncated_tokens_min). */
  truncated_tokens_min: number;
  near_duplicate_cosine_min: number;
  vector_only_cosine_min: number;
}

export async function assemblePassages(
  source: PassageAssembleSource, reader: Reader, ws: string, req: PassageAssembleRequest, opts: PassageAssembleOptions,
): Promise<Rendered & { total_tokens: number }> {
  const include = new PathMatcher(req.include_patterns);
  const exclude = new PathMatcher(req.exclude_patterns);
  const filtered = !include.empty || !exclude.empty;
  const depth = filtered ? passages_filtered : Math.max(passages_min, req.max_documents * passages_per_document);
  const turn = slicer();

  const q = await source.queryVector(ws, req.query);
  const found = source.passageSearcher.lexical(ws, req.query, depth);
  const vector = q === null ? [] : await source.searchHits(ws, req.query, Math.max(vector_depth_min, 5 * req.max_documents), 'vector', q);
  // Document ranks, as the document level fuses them, for the notes; passage scores below.
  const lexicalDocs = aggregatePassages(found);
  const fusedDocs = fuseScores([{ hits: lexicalDocs, weight: fusion_weight_lexical }, { hits: vector, weight: fusion_weight_vector }]);
  const docRank = new Map(fusedDocs.map((h, i) => [h.id, i + 1]));
  const lexRank = new Map(lexicalDocs.map((h, i) => [h.id, i + 1]));
  const vecRank = new Map(vector.map((h, i) => [h.id, i + 1]));
  const vecScore = new Map(vector.map((h) => [h.id, h.score]));
  // Each list min-max normalised (as fuseScores does); a passage's score is its own lexical part
  // plus its document's vector part.
  const norm = (hits: { score: number }[]): ((s: number) => number) => {
    let min = Infinity, max = -Infinity;
    for (const h of hits) { min = Math.min(min, h.score); max = Math.max(max, h.score); }
    return (s) => (max - min > 0 ? (s - min) / (max - min) : 1);
  };
  const lexNorm = norm(found);
  const vecNorm = norm(vector);
  const vecPart = (id: string): number => {
    const s = vecScore.get(id);
    return s === undefined ? 0 : fusion_weight_vector * vecNorm(s);
  };
  // Candidates built field by field: an object spread of each of the ~200 hits cost ~0.8 ms a query.
  const candidate = (p: PassageHit, score: number, fused: number): Candidate => ({
    doc_id: p.doc_id, n: p.n, start: p.start, end: p.end, line_start: p.line_start, line_end: p.line_end, tokens: p.tokens, score, fused, rank: 0,
  });
  const candidates: Candidate[] = found.map((p) => candidate(p, p.score, fusion_weight_lexical * lexNorm(p.score) + vecPart(p.doc_id)));
  // Documents found by vector alone bring their best passages (lexical within them, else the first).
  const lexicalIds = new Set(found.map((p) => p.doc_id));
  const vectorOnly = vector.filter((h) => !lexicalIds.has(h.id) && h.score >= opts.vector_only_cosine_min).map((h) => h.id);
  for (const [id, ps] of source.passageSearcher.within(ws, req.query, vectorOnly, 3)) {
    for (const p of ps) candidates.push(candidate(p, 0, vecPart(id)));
  }
  candidates.sort((a, b) => b.fused - a.fused || (docRank.get(a.doc_id) ?? 1e9) - (docRank.get(b.doc_id) ?? 1e9) || a.n - b.n);
  candidates.forEach((c, i) => (c.rank = i + 1));

  // A document's row (without content), passage count and content are read when the packing
  // looks at it, each once: the loop stops looking at new documents once max_documents are taken,
  // so most of the ~200 candidates' documents are never read. A row is not cheap even without its
  // content: the columns after content (path, hash, tokens, ...) sit past its overflow pages, so
  // reading them walks the whole content on disk (~10 ms for 200 candidates at 10,000 documents).
  const rowOf = memo((id) => reader.summaries(ws, [id]).get(id) ?? null);
  const countOf = memo((id) => source.passageSearcher.counts(ws, [id]).get(id) ?? 1);
  const vectorOf = memo((id) => {
    const v = rowOf(id)?.vector ?? null;
    return v === null ? null : bytesToVector(v);
  });
  const contents = new Map<string, string>();
  const passageText = (id: string, start: number, end: number): string => {
    let content = contents.get(id);
    if (content === undefined) {
      content = reader.content(ws, id) ?? '';
      contents.set(id, content);
    }
    return content.slice(start, end);
  };
  const docs = new Map<string, DocState>();
  const refused = new Set<string>();
  const order: string[] = [];
  const keptHashes = new Set<string>();
  const keptVectors: Float32Array[] = [];
  const keptTexts = new Set<string>();
  const sepTokens = countTokens(piece_separator);
  let used = 0;
  let cut: Candidate | null = null;

  const admissible = async (id: string): Promise<DocState | null> => {
    const known = docs.get(id);
    if (known !== undefined) return known;
    if (refused.has(id)) return null;
    const doc = rowOf(id);
    const refuse = (): null => {
      refused.add(id);
      return null;
    };
    if (doc === null) return refuse();
    if (!include.empty && !(await include.matchesSliced(where(doc), turn))) return refuse();
    if (!exclude.empty && (await exclude.matchesSliced(where(doc), turn))) return refuse();
    if (keptHashes.has(doc.content_hash)) return refuse();
    const v = vectorOf(id);
    if (v !== null && keptVectors.some((k) => cosine(k, v) > opts.near_duplicate_cosine_min)) return refuse();
    const similarity = vecScore.get(id);
    const notes = [
      `fused rank #${docRank.get(id) ?? '-'}`,
      lexRank.has(id) ? `lexical #${lexRank.get(id)}` : null,
      vecRank.has(id) && similarity !== undefined ? `vector #${vecRank.get(id)} (cosine ${similarity.toFixed(2)})` : null,
    ].filter((n): n is string => n !== null).join(', ');
    return { doc, vector: v, taken: [], count: countOf(id), notes };
  };
  const admit = (s: DocState): void => {
    if (docs.has(s.doc.id)) return;
    docs.set(s.doc.id, s);
    order.push(s.doc.id);
    keptHashes.add(s.doc.content_hash);
    if (s.vector !== null) keptVectors.push(s.vector);
  };

  for (const c of candidates) {
    await turn();
    const known = docs.has(c.doc_id);
    if (!known && docs.size >= req.max_documents) continue;
    // Once a passage has been passed over, one that does not fit even without a header is skipped
    // below whatever its document; its document is not looked at for it (refusals only grow as
    // documents are taken, so a later look answers as this one would have).
    if (c.tokens > req.max_tokens - used && cut !== null) continue;
    const s = await admissible(c.doc_id);
    if (s === null) continue;
    const adjacent = s.taken.some((t) => Math.abs(t.c.n - c.n) === 1);
    const overhead = adjacent ? 0 : countTokens(header(s.doc, [c.line_start, c.line_end])) + (used > 0 ? sepTokens : 0);
    // The text is read only for a passage that fits, or the first that does not (the one that may be cut).
    if (overhead + c.tokens > req.max_tokens - used && cut !== null) continue;
    const text = passageText(s.doc.id, c.start, c.end);
    if (keptTexts.has(text)) continue; // the same passage text already taken (a shared boilerplate section)
    if (overhead + c.tokens <= req.max_tokens - used) {
      admit(s);
      s.taken.push({ c, text, tokens: c.tokens });
      keptTexts.add(text);
      used += overhead + c.tokens;
    } else {
      cut ??= c;
    }
  }
  // The best passage that did not fit may be cut to what is left, if that is worth it.
  if (cut !== null) {
    const s = await admissible(cut.doc_id);
    const overhead = s === null ? 0 : countTokens(header(s.doc, [cut.line_start, cut.line_end])) + (used > 0 ? sepTokens : 0);
    const remaining = req.max_tokens - used - overhead;
    if (s !== null && (docs.has(s.doc.id) || docs.size < req.max_documents) && remaining >= Math.min(opts.truncated_tokens_min, req.max_tokens / 2)) {
      const text = await truncateToTokensAsync(passageText(s.doc.id, cut.start, cut.end), remaining);
      const tokens = await countTokensAsync(text);
      if (tokens > 0 && tokens <= remaining) {
        admit(s);
        s.taken.push({ c: cut, text, tokens, truncated_from: cut.tokens });
        used += overhead + tokens;
      }
    }
  }

  // The sum of piece counts estimates the whole; the final string is counted, and the passages
  // taken last (the lowest ranked) are dropped until it fits.
  const takenOrder = [...docs.values()].flatMap((s) => s.taken.map((t) => ({ s, t }))).sort((a, b) => (a.t.truncated_from === undefined ? 0 : 1) - (b.t.truncated_from === undefined ? 0 : 1) || a.t.c.rank - b.t.c.rank);
  let out = render(order, docs);
  let total = await countTokensAsync(out.context);
  while (total > req.max_tokens && takenOrder.length > 0) {
    const last = takenOrder.pop();
    if (last === undefined) break;
    last.s.taken.splice(last.s.taken.indexOf(last.t), 1);
    out = render(order, docs);
    total = await countTokensAsync(out.context);
  }
  if (total > req.max_tokens || out.documents.length > req.max_documents) throw new Error('invariant: assembled passages within budget');
  return { ...out, total_tokens: total };
}

/** `read` of each id once: later calls answer from what the first read. */
function memo<T>(read: (id: string) => T): (id: string) => T {
  const seen = new Map<string, T>();
  return (id) => {
    if (seen.has(id)) return seen.get(id) as T;
    const value = read(id);
    seen.set(id, value);
    return value;
  };
}
