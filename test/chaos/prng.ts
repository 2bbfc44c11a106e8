// The chaos run and the fuzz test draw from the simulation's seeded generator (mulberry32), so
// one seed replays a fault schedule or a set of hostile requests.
export { Prng } from '../../packages/server/test/sim/prng.ts';
