"""MLflow's pyfunc wrapper around the console's .keras file, as a user would write it: the
engine's own validation and encoding of the rows, then the model, then its decoding.

Runs in MLflow's virtual environment (made by bench/serving.py), which sees the console's
packages after its own.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc


class KerasModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        from jobs.engine import model as engine_model

        self.served = engine_model.Served(engine_model.load(context.artifacts["keras"]))

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return self.served.predict(model_input.to_dict("records"))


def save(keras_path: str, out: str) -> None:
    mlflow.pyfunc.save_model(out, python_model=KerasModel(), artifacts={"keras": keras_path})


if __name__ == "__main__":
    import sys

    save(sys.argv[1], sys.argv[2])
