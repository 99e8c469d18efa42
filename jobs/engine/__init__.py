"""The AutoML engine: plain Python that knows nothing of Django.

Keras reads its backend once, when first imported, so the engine owns the default here:
torch, measured fastest on small tabular searches on CPU (see README). KERAS_BACKEND in the
environment overrides it.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
