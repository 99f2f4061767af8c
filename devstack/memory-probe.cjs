// A probe a benchmark preloads into the process whose memory it measures:
//
//   node --expose-gc --require ./devstack/memory-probe.cjs --import tsx engine/worker-main.ts
//
// spawned with an IPC channel (`npm run bench:worker-memory` runs the real
// worker entry this way). On the parent's message `{ type: 'memory-probe',
// id, pauseMs }` it collects garbage in the main thread and in every worker
// thread (the Temporal workflow threads inherit the preload), waits
// `pauseMs`, collects again and answers `{ type: 'memory-probe', id, rss,
// external, heapUsed, heapPhysical, threadsHeapUsed, threadsHeapPhysical,
// threads }` in bytes: the process's RSS; the main thread's external memory,
// its V8 heap in use and the heap's resident pages plus V8's own malloc;
// the same two for the worker threads, summed. It does nothing at all unless
// the process has gc (--expose-gc) and, in the main thread, an IPC channel;
// its channels are unreferenced, so it never keeps a thread or the process
// alive. Production never loads it.
'use strict';

const v8 = require('node:v8');
const { BroadcastChannel, isMainThread } = require('node:worker_threads');

const MESSAGE_TYPE = 'memory-probe';
/** Between the main thread and worker threads: `collect` one way, each thread's heap after its collection back. */
const THREADS_CHANNEL = 'creditflow-memory-probe';

function install() {
  const collect = globalThis.gc;
  if (typeof collect !== 'function') return;
  if (!isMainThread) {
    const threads = new BroadcastChannel(THREADS_CHANNEL);
    threads.onmessage = ({ data }) => {
      if (data?.type !== 'collect') return;
      collect();
      const heap = v8.getHeapStatistics();
      threads.postMessage({ type: 'collected', id: data.id, heapUsed: heap.used_heap_size, heapPhysical: heap.total_physical_size + heap.malloced_memory });
    };
    threads.unref();
    return;
  }
  if (typeof process.send !== 'function' || !process.channel) return;
  const threads = new BroadcastChannel(THREADS_CHANNEL);
  const threadHeaps = new Map();
  threads.onmessage = ({ data }) => {
    if (data?.type === 'collected') threadHeaps.get(data.id)?.push(data);
  };
  threads.unref();
  process.on('message', (message) => {
    if (!message || message.type !== MESSAGE_TYPE) return;
    const heaps = [];
    threadHeaps.set(message.id, heaps);
    threads.postMessage({ type: 'collect', id: message.id });
    collect();
    setTimeout(() => {
      collect();
      threadHeaps.delete(message.id);
      const { rss, external } = process.memoryUsage();
      const heap = v8.getHeapStatistics();
      const sum = (key) => heaps.reduce((total, thread) => total + thread[key], 0);
      process.send({
        type: MESSAGE_TYPE, id: message.id, rss, external,
        heapUsed: heap.used_heap_size, heapPhysical: heap.total_physical_size + heap.malloced_memory,
        threadsHeapUsed: sum('heapUsed'), threadsHeapPhysical: sum('heapPhysical'), threads: heaps.length,
      });
    }, Number(message.pauseMs) || 0);
  });
  // Listening refs the channel; explicitly unreferenced, it lets the process exit when its work is done.
  process.channel.unref();
}

install();
