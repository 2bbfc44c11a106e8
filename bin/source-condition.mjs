// A module resolution hook for `cairn`: resolves the workspace packages (@cairn/client) to their
// TypeScript sources (the "cairn-source" export condition) instead of their built dist/, so the
// command runs the checkout as it is, as tsx runs the rest. Consumers outside the repository get
// the built package.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, 'cairn-source'] });
}
