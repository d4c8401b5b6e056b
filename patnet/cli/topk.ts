// Logits to the k most likely ImageNet classes with softmax probabilities.
import { IMAGENET_CLASSES } from '../imagenet-classes.js';

export interface Prediction {
  readonly index: number;
  readonly label: string;
  readonly probability: number;
}

/** Top-k of one row of logits (softmax in float64; ties keep the lower index first). */
export function topK(
  logits: ArrayLike<number>,
  k: number,
  labels: readonly string[] = IMAGENET_CLASSES,
): Prediction[] {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const order = Array.from({ length: logits.length }, (_, i) => i).sort(
    (a, b) => logits[b]! - logits[a]! || a - b,
  );
  return order.slice(0, Math.min(k, logits.length)).map((index) => ({
    index,
    label: labels[index] ?? `class ${index}`,
    probability: Math.exp(logits[index]! - max) / sum,
  }));
}

export function formatPredictions(predictions: readonly Prediction[]): string[] {
  const width = Math.max(...predictions.map((p) => p.label.length), 5);
  return predictions.map(
    (p, i) =>
      `  ${String(i + 1).padStart(2)}. ${String(p.index).padStart(3)} ${p.label.padEnd(width)}  ${(p.probability * 100).toFixed(2).padStart(6)}%`,
  );
}
