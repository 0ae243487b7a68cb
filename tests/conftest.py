import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture
def seeded_rng(request):
    """A numpy Generator seeded from CFSNN_SEED (default: a fixed per-test seed); prints the seed."""
    base = int(os.environ.get("CFSNN_SEED", "20261204"))
    seed = (base + sum(map(ord, request.node.name))) % (2**31)
    print(f"seed={seed} (replay with CFSNN_SEED={base})")
    return np.random.default_rng(seed)
