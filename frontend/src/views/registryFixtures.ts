// Test data for the registry pages' component tests.
import type { Deployment, ModelVersion, RegisteredModel } from "../api";

export function version(id: number, n: number, extra: Partial<ModelVersion> = {}): ModelVersion {
  return {
    id,
    model: 1,
    model_name: "diagnosis",
    version: n,
    job: 10 + id,
    dataset: 5,
    task_type: "binary_classification",
    target: "diagnosis",
    classes: ["benign", "malignant"],
    metrics: { accuracy: 0.9, per_class: { benign: { precision: 0.9, recall: 0.8, f1: 0.85, support: 10 } } },
    hyperparameters: { learning_rate: 0.001 },
    input_schema: [],
    input_signature: { inputs: [{ name: "clinic", type: "categorical", values: ["east", "south"] }], example: null },
    output_signature: { target: "diagnosis", task_type: "binary_classification", classes: ["benign", "malignant"] },
    manifest: {},
    artifact_sha256: "abcdef0123456789abcdef",
    artifact_size: 2048,
    aliases: [],
    archived_at: null,
    created_by: "ann",
    created_at: "2026-01-01T00:00:00Z",
    ...extra,
  } as unknown as ModelVersion;
}

export function model(versions: ModelVersion[], extra: Partial<RegisteredModel> = {}): RegisteredModel {
  return {
    id: 1,
    name: "diagnosis",
    task_type: "binary_classification",
    description: "",
    tags: [],
    role: "owner",
    aliases: [],
    latest_version: versions.length ? Math.max(...versions.map((v) => v.version)) : null,
    versions,
    ...extra,
  } as unknown as RegisteredModel;
}

export const deployment = (name: string): Deployment => ({ name, status: "READY" }) as unknown as Deployment;
