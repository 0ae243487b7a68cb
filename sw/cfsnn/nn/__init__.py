"""PyTorch side: the CF neuron, quantisation-aware layers, the network and its losses."""

from .functional import cf_multistep, cf_multistep_reference
from .integer import IntOutput, run_int
from .loss import pnb_loss, pnb_terms, task_loss
from .net import CFNet, CFOutput
from .neuron import PRESETS, SURROGATES, CFNeuron
from .quant import QuantLinear, fake_quant

__all__ = ["CFNeuron", "CFNet", "CFOutput", "QuantLinear", "fake_quant", "cf_multistep",
           "cf_multistep_reference", "task_loss", "pnb_loss", "pnb_terms", "run_int",
           "IntOutput", "PRESETS", "SURROGATES"]
