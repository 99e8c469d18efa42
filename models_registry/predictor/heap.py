"""Keeping Python's full garbage collections off the request path.

A predictor holds about half a million long-lived objects once torch and Keras are imported
and its models loaded. A full (generation 2) collection walks all of them: 100-400 ms measured
on these two cores, during which no request is answered; it comes whenever enough objects
survived since the last one, so under steady traffic it comes back again and again, and each
time it is the p99 of every request in flight. `gc.freeze()` moves every object that exists
now into a permanent generation that collections skip; it costs nothing to call (a list splice).

Frozen objects that later die in a reference cycle are never collected, and a Keras model is
full of cycles: so when a model was dropped (an undeploy, a swap, an idle unload) the heap is
unfrozen and collected once, off the request path's hot loop, before it is frozen again.
"""

from __future__ import annotations

import gc


def settle(*, dropped: bool) -> None:
    """Freeze the heap as it is now; collect first if a model was let go since the last time."""
    if dropped:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
