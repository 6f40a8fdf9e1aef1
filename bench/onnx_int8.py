"""ONNX Runtime int8 for the side-by-side benchmark: rewrite an fp32 export the
way onnxruntime.quantization.quantize_dynamic does with its defaults for
MatMul (the onnxruntime Python package is not installable here; python3-onnx
is), so ORT runs the model the way a user who quantizes for ORT would:

  every MatMul whose B is a constant float initializer (the Linear layers)
      A -> DynamicQuantizeLinear -> A_q (uint8), a_scale, a_zero_point
      MatMulInteger(A_q, W_q, a_zero_point, w_zero_point) -> int32
      Cast(float) -> Mul(Mul(a_scale, w_scale))
  W_q: per-tensor symmetric int8 (scale = max|W| / 127, zero point 0,
  round half to even, clipped to [-127, 127]); one DynamicQuantizeLinear per
  activation however many MatMuls read it, one W_q per weight.

ORT's optimizer (level all) fuses these into MatMulIntegerToFloat (plus the
bias Add) and, where the DynamicQuantizeLinear has one consumer,
DynamicQuantizeMatMul.  Left float, as quantize_dynamic leaves them with
MatMulConstBOnly (its default for dynamic mode): activation x activation
MatMuls (attention scores and values).  Also left float: MatMuls whose A is a
constant too (ORT folds them at load), Gemm (quantize_dynamic's integer-op
registry has no Gemm; the exports contain none) and the patch Conv
(quantize_dynamic's defaults would make it a ConvInteger; the usual recipe
for transformers, op_types_to_quantize=["MatMul"], keeps it float).

  onnx_int8.py IN.onnx OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def quantize_weight(w):
    """Per-tensor symmetric int8: (W_q, scale), W ~= scale * W_q."""
    absmax = np.float32(max(-min(w.min(), 0.0), max(w.max(), 0.0)))
    # (rmax - rmin) / (qmax - qmin) over [-absmax, absmax] and [-127, 127], in float32
    scale = (absmax * np.float32(2)) / np.float32(254) if absmax > 0 else np.float32(1)
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return q, scale


def quantize_model(model):
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    new_nodes, new_inits = [], []
    act_q = {}   # activation name -> (A_q, a_scale, a_zero_point)
    w_q = {}     # weight name -> (W_q, w_scale, w_zero_point)
    counts = {"quantized": 0, "act x act": 0, "const x const": 0, "gemm": 0}
    for node in g.node:
        if node.op_type == "Gemm":
            counts["gemm"] += 1
        if node.op_type != "MatMul":
            new_nodes.append(node)
            continue
        a, b = node.input
        if b not in inits or inits[b].data_type != TensorProto.FLOAT:
            counts["act x act"] += 1
            new_nodes.append(node)
            continue
        if a in inits:
            counts["const x const"] += 1
            new_nodes.append(node)
            continue
        if b not in w_q:
            q, scale = quantize_weight(numpy_helper.to_array(inits[b]))
            names = (b + "_quantized", b + "_scale", b + "_zero_point")
            new_inits += [numpy_helper.from_array(q, names[0]),
                          numpy_helper.from_array(np.array(scale, np.float32), names[1]),
                          numpy_helper.from_array(np.array(0, np.int8), names[2])]
            w_q[b] = names
        if a not in act_q:
            act_q[a] = (a + "_quantized", a + "_scale", a + "_zero_point")
            new_nodes.append(helper.make_node("DynamicQuantizeLinear", [a], list(act_q[a]),
                                              a + "_DynamicQuantizeLinear"))
        aq, asc, azp = act_q[a]
        wq, wsc, wzp = w_q[b]
        out = node.output[0]
        name = node.name or out
        new_nodes += [
            helper.make_node("MatMulInteger", [aq, wq, azp, wzp], [out + "_int32"], name + "_quant"),
            helper.make_node("Cast", [out + "_int32"], [out + "_float"], name + "_cast", to=TensorProto.FLOAT),
            helper.make_node("Mul", [asc, wsc], [name + "_scales"], name + "_scales_mul"),
            helper.make_node("Mul", [out + "_float", name + "_scales"], [out], name + "_output_scale_mul"),
        ]
        counts["quantized"] += 1
    # the fp32 weights go unless another node still reads them
    used = {i for n in new_nodes for i in n.input}
    kept = [t for t in g.initializer if t.name not in w_q or t.name in used]
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    return counts


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.rsplit("\n\n", 1)[1].strip())
    model = onnx.load(sys.argv[1])
    counts = quantize_model(model)
    if counts["quantized"] == 0:
        sys.exit(f"onnx_int8: {sys.argv[1]}: no MatMul with a constant float weight")
    onnx.checker.check_model(model)
    onnx.save(model, sys.argv[2])
    print(f"onnx_int8: {counts['quantized']} MatMuls to int8; left float: {counts['act x act']} "
          f"activation x activation, {counts['const x const']} constant x constant, {counts['gemm']} Gemm")


if __name__ == "__main__":
    main()
