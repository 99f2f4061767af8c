// The wire format between the worker (sandbox.ts) and a sandbox child
// (sandbox-process.ts): length-prefixed binary frames over a socket pair on
// the child's fd 3. Strings cross as UTF-8 bytes that nobody parses on the
// way: the input is serialized once in the parent and handed to the isolate
// as that same JSON text, and the result leaves the isolate as JSON text that
// only the parent parses. One frame each way per run.

/** The child's end of the channel. */
export const CHANNEL_FD = 3;

/** Frames larger than this are a protocol error (the child is replaced). Code is at most 64 KB, output 256 KB, logs 16 KB. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Parent to child: run one script. `inputJson` is the `serializeInput` text. */
export interface RunRequest {
  id: number;
  timeoutMs: number;
  memoryMb: number;
  code: string;
  inputJson: string;
  /** The parent polls for this answer (a burst, channel-poll.ts); the child then polls for the next request once it has answered. */
  burst: boolean;
}

/** Child to parent. `ready` once after boot; then one `result` (a ScriptResult as JSON, no queueMs) or `failure` per run. */
export type ChildFrame =
  | { kind: 'ready' }
  | { kind: 'result'; id: number; compromised: boolean; resultJson: string }
  | { kind: 'failure'; id: number; message: string };

const KIND_READY = 0;
const KIND_RESULT = 1;
const KIND_FAILURE = 2;

// Request: [u32 length][u32 id][u32 timeoutMs][u32 memoryMb][u32 code bytes][u8 burst][code][inputJson]
const REQUEST_HEADER = 21;
// Child frame: [u32 length][u32 id][u8 kind][u8 compromised][text]
const CHILD_HEADER = 10;

export function encodeRequest(request: RunRequest): Buffer {
  const codeBytes = Buffer.byteLength(request.code, 'utf8');
  const inputBytes = Buffer.byteLength(request.inputJson, 'utf8');
  const frame = Buffer.allocUnsafe(REQUEST_HEADER + codeBytes + inputBytes);
  frame.writeUInt32LE(frame.length - 4, 0);
  frame.writeUInt32LE(request.id, 4);
  frame.writeUInt32LE(request.timeoutMs, 8);
  frame.writeUInt32LE(request.memoryMb, 12);
  frame.writeUInt32LE(codeBytes, 16);
  frame.writeUInt8(request.burst ? 1 : 0, 20);
  frame.write(request.code, REQUEST_HEADER, codeBytes, 'utf8');
  frame.write(request.inputJson, REQUEST_HEADER + codeBytes, inputBytes, 'utf8');
  return frame;
}

/** Decodes a complete request frame as `FrameReader` hands it over (length prefix included). */
export function decodeRequest(frame: Buffer): RunRequest {
  if (frame.length < REQUEST_HEADER) throw new Error('malformed request frame');
  const codeEnd = REQUEST_HEADER + frame.readUInt32LE(16);
  if (codeEnd > frame.length) throw new Error('malformed request frame');
  return {
    id: frame.readUInt32LE(4),
    timeoutMs: frame.readUInt32LE(8),
    memoryMb: frame.readUInt32LE(12),
    code: frame.toString('utf8', REQUEST_HEADER, codeEnd),
    inputJson: frame.toString('utf8', codeEnd),
    burst: frame.readUInt8(20) === 1,
  };
}

export function encodeChildFrame(message: ChildFrame): Buffer {
  const text = message.kind === 'ready' ? '' : message.kind === 'result' ? message.resultJson : message.message;
  const textBytes = Buffer.byteLength(text, 'utf8');
  const frame = Buffer.allocUnsafe(CHILD_HEADER + textBytes);
  frame.writeUInt32LE(frame.length - 4, 0);
  frame.writeUInt32LE(message.kind === 'ready' ? 0 : message.id, 4);
  frame.writeUInt8(message.kind === 'ready' ? KIND_READY : message.kind === 'result' ? KIND_RESULT : KIND_FAILURE, 8);
  frame.writeUInt8(message.kind === 'result' && message.compromised ? 1 : 0, 9);
  frame.write(text, CHILD_HEADER, textBytes, 'utf8');
  return frame;
}

export function decodeChildFrame(frame: Buffer): ChildFrame {
  if (frame.length < CHILD_HEADER) throw new Error('malformed child frame');
  const id = frame.readUInt32LE(4);
  const kind = frame.readUInt8(8);
  const text = frame.toString('utf8', CHILD_HEADER);
  if (kind === KIND_READY) return { kind: 'ready' };
  if (kind === KIND_RESULT) return { kind: 'result', id, compromised: frame.readUInt8(9) === 1, resultJson: text };
  if (kind === KIND_FAILURE) return { kind: 'failure', id, message: text };
  throw new Error(`unknown child frame kind ${kind}`);
}

/**
 * Reassembles frames from a byte stream: chunks may split a frame anywhere
 * (the length prefix included) or carry several. `push` returns the frames
 * completed by a chunk, each a Buffer starting with its length prefix.
 */
export class FrameReader {
  /** Bytes of an incomplete frame, kept as received until the frame is whole (no quadratic re-copying). */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Length of the frame being assembled, prefix included; 0 until its prefix is known. */
  private needed = 0;

  constructor(private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  /** True while part of a frame has arrived but not all of it. */
  get partial(): boolean {
    return this.buffered > 0;
  }

  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let data = chunk;
    if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.needed === 0 && this.buffered >= 4) this.needed = this.frameLength(Buffer.concat(this.chunks, 4));
      if (this.needed === 0 || this.buffered < this.needed) return frames;
      data = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
      this.needed = 0;
    }
    let offset = 0;
    while (data.length - offset >= 4) {
      const length = this.frameLength(data.subarray(offset, offset + 4));
      if (data.length - offset < length) break;
      frames.push(data.subarray(offset, offset + length));
      offset += length;
    }
    if (offset < data.length) {
      // Copy the leftover so it does not pin the whole chunk it came in.
      const rest = Buffer.from(data.subarray(offset));
      this.chunks = [rest];
      this.buffered = rest.length;
      this.needed = rest.length >= 4 ? this.frameLength(rest) : 0;
    }
    return frames;
  }

  private frameLength(prefix: Buffer): number {
    const length = prefix.readUInt32LE(0);
    if (length > this.maxFrameBytes) throw new Error(`frame of ${length} bytes exceeds the ${this.maxFrameBytes}-byte bound`);
    return 4 + length;
  }
}
