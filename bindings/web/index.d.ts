// Types of pecore-web (index.js).  Every method returns a promise that
// rejects with a PecoreError carrying the library's one-line message.

/** What the worker can embed: drawable images, or raw RGBA pixels. */
export type PecoreImage =
  | ImageBitmap
  | VideoFrame
  | ImageData
  | HTMLCanvasElement
  | OffscreenCanvas
  | HTMLImageElement
  | HTMLVideoElement
  | Blob
  | { data: Uint8ClampedArray | Uint8Array; width: number; height: number };

export interface ModelInfo {
  arch: string;            // "PE-Core-T16-384", or "custom"
  family: 'PE' | 'DINOv2' | 'Franca';
  isa: string;             // kernel set: "wasm-simd128" or "scalar"
  dim: number;             // embedding size
  imageSize: number;       // the model's native input size
  inputSize: number;       // the size images are resized to here
  patch: number;
  layers: number;
  width: number;
  hasText: boolean;        // a text tower for zero-shot labels
  threads: number;         // threads of the model's context
  threaded: boolean;       // the SharedArrayBuffer build runs
  params: number;
  fileBytes: number;
  fingerprint: string;     // 16 hex digits: tells models apart
}

export interface LoadOptions {
  /** Expected SHA-256 (64 hex digits), checked before the file is parsed. */
  sha256?: string;
  /** Refuse a model of another family. */
  family?: 'PE' | 'DINOv2' | 'Franca';
  /** Threads of the threaded build (0: up to 4); the other build has one. */
  threads?: number;
  /** Input size in pixels (0: the model's own). */
  size?: number;
  /** Bytes received so far, and the total when known (0 otherwise). */
  onProgress?: (loaded: number, total: number) => void;
}

export interface LabelScore { label: string; score: number }

export interface Classification { top: LabelScore[] }

export interface LiveResult extends Classification {
  stable: string | null;   // the smoothed label; null: none yet / unknown
  stableScore: number;     // its smoothed probability
  changed: boolean;
  sceneCut: boolean;
  latencyMs: number;       // frame grabbed on the page -> result back
  computeMs: number;       // pixels + embedding + classification in the worker
  resultsPerSecond: number;
  processed: number;
  dropped: number;         // frames replaced by a newer one while busy
}

export interface LiveOptions {
  onResult?: (r: LiveResult) => void;
  onError?: (e: PecoreError) => void;
  /** Gallery neighbours that vote (default 5; 1: the nearest entry). */
  k?: number;
}

export declare class PecoreError extends Error {
  name: 'PecoreError';
}

export declare class LiveSession {
  start(): this;
  stop(): void;
  stats(): { processed: number; dropped: number; resultsPerSecond: number };
}

export declare class Pecore {
  /** Starts the worker (worker.js beside index.js unless workerUrl). */
  static create(options?: { workerUrl?: string | URL }): Promise<Pecore>;
  /** The loaded model, once loadModel resolved. */
  info: ModelInfo | null;
  loadModel(source: string | URL | ArrayBuffer | ArrayBufferView | Blob | File,
            options?: LoadOptions): Promise<ModelInfo>;
  /** The image's embedding (info.dim floats, not normalised). */
  embed(image: PecoreImage): Promise<Float32Array>;
  /** Resolves to the number of gallery entries. */
  addToGallery(label: string, image: PecoreImage, source?: string): Promise<number>;
  removeFromGallery(label: string): Promise<number>;
  clearGallery(): Promise<number>;
  /** Prototype classes, when there are any, are used instead of the gallery. */
  addPrototype(label: string, embedding: ArrayLike<number>, threshold?: number): Promise<number>;
  clearPrototypes(): Promise<number>;
  /** Zero-shot classes from text (needs a text tower and the tokenizer). */
  setZeroShotLabels(labels: Iterable<string>): Promise<number>;
  classify(image: PecoreImage, options?: { k?: number }): Promise<Classification>;
  memory(): Promise<{ wasmBytes: number; threaded: boolean }>;
  live(video: HTMLVideoElement, options?: LiveOptions): LiveSession;
  terminate(): void;
}
