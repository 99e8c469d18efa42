"""An MLServer runtime for the console's .keras file: Open Inference Protocol columns in,
the engine's validation and encoding, the model (MLServer batches requests adaptively), and
the label and probabilities out.

Runs in MLServer's virtual environment (made by bench/serving.py), which sees the console's
packages after its own.
"""

from __future__ import annotations

import numpy as np
from mlserver import MLModel
from mlserver.codecs import StringCodec
from mlserver.types import (
    InferenceRequest,
    InferenceResponse,
    ResponseOutput,
)


class KerasRuntime(MLModel):
    async def load(self) -> bool:
        from jobs.engine import model as engine_model

        self.served = engine_model.Served(engine_model.load(self.settings.parameters.uri))
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        columns = {}
        for tensor in payload.inputs:
            data = tensor.data.root if hasattr(tensor.data, "root") else tensor.data
            values = list(data)
            columns[tensor.name] = [v.decode() if isinstance(v, bytes) else v for v in values]
        names = list(columns)
        rows = [
            dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)
        ]
        predictions = self.served.predict(rows)
        labels = [p["label"] for p in predictions]
        classes = list(predictions[0]["probabilities"])
        probabilities = np.array(
            [[p["probabilities"][c] for c in classes] for p in predictions], dtype="float32"
        )
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                StringCodec.encode_output("label", labels),
                ResponseOutput(
                    name="probabilities",
                    shape=list(probabilities.shape),
                    datatype="FP32",
                    data=probabilities.reshape(-1).tolist(),
                ),
            ],
        )
