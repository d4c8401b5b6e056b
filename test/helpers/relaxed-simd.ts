// Turns on relaxed SIMD in this process's V8 (Node 20 has it behind a flag; Node 22+ and Chromium
// 114+ have it on). Import it FIRST in a test file: imports evaluate in order, so nothing before it
// compiles or validates WebAssembly. Vitest runs each test file in its own process (forks pool), so
// the flag never reaches other files.
import v8 from 'node:v8';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
