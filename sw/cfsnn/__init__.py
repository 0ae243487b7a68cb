"""cfsnn: circulate-firing spiking neural networks, from PyTorch to a bit-exact FPGA core.

The float and integer semantics are defined in docs/SPEC.md. Quick API::

    import cfsnn
    model = cfsnn.load_model("runs/digits/model.cfsnn")
    result = cfsnn.golden.run(model, codes)      # codes [B, N_in] or [B, T, N_in]
"""

from . import formats, golden
from .errors import CfsnnError, DataError, ModelError
from .model import Layer, Model, load_model

__version__ = "0.1.0"
__all__ = ["load_model", "Model", "Layer", "golden", "formats", "CfsnnError", "ModelError",
           "DataError", "__version__"]
