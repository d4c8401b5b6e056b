// `npm run demo`: what tilevm does, on embedded defaults, on every backend this machine has.
//   1. A u4 GEMV written in the kernel language, on the interpreter, WASM-SIMD and WebGPU.
//   2. PATNet-T0 classifying the bundled photo (patnet/), with top-5 and latency per backend.
//   3. LLM weight quantization to seven formats and the quantized GEMV per backend (llm/).
// Any backend that exists but disagrees or fails makes the demo exit with status 1.
import { createDevice, createWasmDevice } from '../../runtime/index.js';
import { demoGemv } from './gemv.js';
import { type DemoDevice, demoLlm } from './llm.js';
import { demoPatnet } from './patnet.js';

async function llmDevices(): Promise<{ devices: DemoDevice[]; close: () => void }> {
  const devices: DemoDevice[] = [{ name: 'wasm-simd', device: await createWasmDevice() }];
  try {
    devices.push({ name: 'webgpu', device: await createDevice({ backend: 'webgpu' }) });
  } catch (e) {
    console.log(`webgpu: not available (${(e as Error).message.split('\n')[0]})`);
  }
  const close = (): void => {
    for (const d of devices) d.device.destroy();
  };
  return { devices, close };
}

try {
  console.log('== 1. A kernel in the language: u4 GEMV ==\n');
  await demoGemv();
  console.log('\n== 2. PATNet-T0 image classification ==');
  await demoPatnet();
  console.log('\n== 3. Quantized matmul for LLM inference ==');
  const { devices, close } = await llmDevices();
  try {
    await demoLlm(devices);
  } finally {
    close();
  }
} catch (e) {
  console.error(`\n${(e as Error).message}`);
  process.exit(1);
}
