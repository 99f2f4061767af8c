import { resolveOptions } from './limits';
import { SandboxDisposedError } from './sandbox-disposed-error';
import { createChildSandbox } from './sandbox';
import type { Sandbox, SandboxOptions } from './types';

/**
 * The sandbox the engine uses: `processes` child sandboxes side by side. Each
 * child runs one script at a time, so with one child a script that takes its
 * full 10 s would hold up every other run; here a run goes to the child with
 * the fewest runs waiting. Children start on first use.
 */
export function createSandbox(options: SandboxOptions = {}): Sandbox {
  const { processes } = resolveOptions(options);
  const members = Array.from({ length: processes }, () => ({ sandbox: createChildSandbox(options), queued: 0 }));
  let disposed = false;
  return {
    async run(request) {
      if (disposed) throw new SandboxDisposedError();
      const member = members.reduce((least, candidate) => (candidate.queued < least.queued ? candidate : least));
      member.queued += 1;
      try {
        return await member.sandbox.run(request);
      } finally {
        member.queued -= 1;
      }
    },
    checkSyntax(code) {
      return members[0]!.sandbox.checkSyntax(code);
    },
    dispose() {
      disposed = true;
      for (const member of members) member.sandbox.dispose();
    },
  };
}
