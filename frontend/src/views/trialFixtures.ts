// Trials as the API answers them, shared by the hyperparameter views' unit tests.
import type { Trial } from "../types";

export function apiTrial(number: number, score: number | null, hyperparameters: Trial["hyperparameters"], status: Trial["status"] = "COMPLETED"): Trial {
  return { id: number * 10, number, status, hyperparameters, score, epochs: [], error: "", runner: "", started_at: "2026-12-03T10:00:00Z", finished_at: null };
}

/** Three scored trials (units linear, learning rates over two decades, a categorical, a
 * constant, one conditional), a failed and a running one. */
export const trials = [
  apiTrial(1, 0.5, { units: 64, learning_rate: 0.01, activation: "relu", layers: 2 }),
  apiTrial(2, 0.3, { units: 32, learning_rate: 0.0001, activation: "tanh", layers: 2 }),
  apiTrial(3, 0.4, { units: 128, learning_rate: 0.001, activation: "relu", layers: 2, dropout: 0.2 }),
  apiTrial(4, null, { units: 16, learning_rate: 0.1, activation: "elu", layers: 2 }, "FAILED"),
  apiTrial(5, null, null, "RUNNING"),
];
