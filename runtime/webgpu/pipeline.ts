/// <reference types="@webgpu/types" />
// Compiling an artifact into a compute pipeline. The bind group layout is explicit (one storage
// buffer per global param, read-only for 'read' params, then the uniform buffer): 'auto' would drop
// bindings the shader never uses and break the fixed binding scheme. Errors become ShaderErrors that
// name the kernel: WGSL errors and warnings from the compilation info (the backend promises zero
// warnings), and validation errors caught by error scopes instead of going to the console.
import type { WgslArtifact } from '../artifact.js';
import { ShaderError } from './errors.js';
import type { KernelPlan } from './plan.js';

export interface CompiledKernel {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

export async function compileKernel(device: GPUDevice, plan: KernelPlan): Promise<CompiledKernel> {
  const artifact = plan.artifact;
  const label = artifact.kernel;
  const entries: GPUBindGroupLayoutEntry[] = plan.globals.map((g) => ({
    binding: g.binding,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: g.access === 'read' ? 'read-only-storage' : 'storage' },
  }));
  if (artifact.uniforms.length > 0) {
    entries.push({
      binding: artifact.uniformBinding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: 'uniform' },
    });
  }
  device.pushErrorScope('internal');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let module: GPUShaderModule;
  let layout: GPUBindGroupLayout;
  let pipeline: GPUComputePipeline;
  let scopes: Promise<GPUError | null>[];
  try {
    module = device.createShaderModule({ label, code: artifact.wgsl });
    layout = device.createBindGroupLayout({ label, entries });
    pipeline = device.createComputePipeline({
      label,
      layout: device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: artifact.entryPoint },
    });
  } finally {
    // Pop in the same synchronous stretch as the push, so no other work lands in these scopes.
    scopes = [device.popErrorScope(), device.popErrorScope(), device.popErrorScope()];
  }
  const [info, ...errors] = await Promise.all([module.getCompilationInfo(), ...scopes]);
  const messages = info.messages.filter((m) => m.type === 'error' || m.type === 'warning');
  if (messages.length > 0) {
    const errorCount = messages.filter((m) => m.type === 'error').length;
    const what = errorCount > 0 ? 'failed to compile' : 'compiled with warnings (the backend promises none)';
    throw new ShaderError(
      label,
      `kernel '${label}': its WGSL ${what}:\n${messages.map((m) => formatMessage(artifact, m)).join('\n')}`,
    );
  }
  const error = errors.find((e) => e !== null);
  if (error) {
    throw new ShaderError(label, `kernel '${label}': creating its compute pipeline failed: ${error.message}`);
  }
  return { pipeline, layout };
}

/** `error at 3:14: message`, then the source line and a caret. */
function formatMessage(artifact: WgslArtifact, m: GPUCompilationMessage): string {
  const head = `  ${m.type}${m.lineNum > 0 ? ` at ${m.lineNum}:${m.linePos}` : ''}: ${m.message}`;
  const line = m.lineNum > 0 ? artifact.wgsl.split('\n')[m.lineNum - 1] : undefined;
  if (line === undefined) return head;
  return `${head}\n    ${line}\n    ${' '.repeat(Math.max(0, m.linePos - 1))}^`;
}
