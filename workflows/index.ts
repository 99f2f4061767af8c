// Every workflow the worker hosts. Workflow code is replayed by Temporal: it
// must stay deterministic (no I/O, env, randomness or wall clock).
export { triggerRun, cancelRequestSignal, eventArrivedSignal, runStateQuery } from './trigger-run';
export { scheduledFiring } from './scheduled-firing';
