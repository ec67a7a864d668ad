"""Inference-only linear layers over frozen weights, pre-packed for the CPU's matrix kernels.

Decoding calls the same few products hundreds of times with a changing number of rows (5 for one
sentence at beam 5, several hundred in a batch). The default CPU path (`F.linear`) hands each call to the
BLAS with the weight in its stored layout, which at a handful of rows reaches a small share of the
machine's rate (about 9 GFLOP/s for (5, 256) x (256, 8000) while decoding on the project's 2-core
machine). oneDNN's linear over a weight reordered once into its blocked layout reaches 90-120 GFLOP/s
at 5 rows and 1.3-1.6 times the BLAS rate at 300-600 rows (figures in docs/experiments/translation.md).

`PackedLinear` keeps such a copy: fp32 or bf16 products (inputs cast to that type), fp32 results. Where
oneDNN cannot run it (not a CPU tensor, PyTorch built without it, bf16 on a CPU without bf16 support) it
computes `F.linear` over a cast copy of the weight, so results are the same up to summation order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

PACK_ROWS = 512  # the row count oneDNN's reorder is told to expect; any row count runs on the packed weight


def packing_available(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether oneDNN can run packed products of this type on this device."""
    if device.type != "cpu" or not torch.backends.mkldnn.is_available() or dtype not in (torch.float32, torch.bfloat16):
        return False
    if not (hasattr(torch.ops.mkldnn, "_linear_pointwise") and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")):
        return False
    return dtype == torch.float32 or bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class PackedLinear:
    """y = x W^T + b over a frozen copy of W (out, in) and b: fp32 results, products in `dtype`.

    A copy, not a view: later changes to the module's parameters do not reach it (callers rebuild it).
    """

    def __init__(self, weight: Tensor, bias: Tensor | None, dtype: torch.dtype = torch.float32, pack: bool | None = None) -> None:
        if weight.dim() != 2:
            raise ValueError(f"PackedLinear needs a 2-d weight, got shape {tuple(weight.shape)}")
        self.dtype = dtype
        weight = weight.detach().to(dtype).contiguous()
        self.bias = None if bias is None else bias.detach().to(dtype).contiguous()
        self.packed = packing_available(weight.device, dtype) if pack is None else pack
        self.weight = torch.ops.mkldnn._reorder_linear_weight(weight, PACK_ROWS) if self.packed else weight

    def __call__(self, x: Tensor) -> Tensor:
        """x (N, in) -> (N, out) fp32."""
        x = x.to(self.dtype).contiguous()
        if self.packed:
            y = torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")
        else:
            y = F.linear(x, self.weight, self.bias)
        return y.float()
