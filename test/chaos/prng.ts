// The chaos run and the fuzz test draw from the simulation's seeded generator (mulberry32), so
// one seed replays a fault schedule or a set of hostile requests.
export { Prng } from '../../packages/raft/test/sim/prng.ts';
