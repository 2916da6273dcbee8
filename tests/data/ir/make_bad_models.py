#!/usr/bin/python3
"""Writes the small ONNX models of tests/ir (run with Debian's /usr/bin/python3, which has
python3-onnx): models the importer must reject with a clear message, and a few tiny valid
models for dtype, Constant-node and pass tests. Usage: make_bad_models.py [REAL_MODEL]
(REAL_MODEL, default /work/main/models/fmnist_cnn.float.onnx, gives the truncated file)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, external_data_helper, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = sys.argv[1] if len(sys.argv) > 1 else "/work/main/models/fmnist_cnn.float.onnx"


def model(nodes, inputs, outputs, inits=(), opset=13, ir_version=8, **kw):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits), **kw)
    m = helper.make_model(g, opset_imports=[helper.make_operatorsetid("", opset)],
                          producer_name="make_bad_models.py")
    m.ir_version = ir_version
    return m


def save(m, name):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(m.SerializeToString())


def fvi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


X = fvi("x", ["N", 4])
Y = fvi("y", ["N", 4])

# --- models the importer rejects ---------------------------------------------------------
save(model([helper.make_node("FancyOp", ["x"], ["y"], name="fancy")], [X], [Y]), "unknown_op.onnx")
save(model([helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky", alpha=0.1, beta=2.0)],
           [X], [Y]), "unsupported_attr.onnx")

ext = numpy_helper.from_array(np.ones([4], np.float32), "w")
external_data_helper.set_external_data(ext, location="weights.bin", offset=0, length=16)
ext.ClearField("raw_data")
ext.data_location = TensorProto.EXTERNAL
save(model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [X], [Y], [ext]),
     "external_data.onnx")

with open(REAL, "rb") as f:
    real = f.read()
with open(os.path.join(HERE, "truncated.onnx"), "wb") as f:
    f.write(real[:100])
with open(os.path.join(HERE, "garbage.onnx"), "wb") as f:
    f.write(b"\xff\xff\xff\xff this is not a protobuf \x00\x01\x02" * 4)

then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then", [],
                           [fvi("t", ["N", 4])])
else_g = helper.make_graph([helper.make_node("Relu", ["x"], ["e"])], "else", [],
                           [fvi("e", ["N", 4])])
cond = numpy_helper.from_array(np.array(True), "cond")
save(model([helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_g,
                             else_branch=else_g)], [X], [Y], [cond]), "if_subgraph.onnx")

save(model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [X], [Y], opset=18),
     "opset_18.onnx")
save(model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [X], [Y], ir_version=9),
     "ir_version_9.onnx")
save(model([helper.make_node("Add", ["x", "missing"], ["y"], name="add")], [X], [Y]),
     "dangling_input.onnx")
s = helper.make_tensor("s", TensorProto.STRING, [1], [b"hello"])
save(model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [X], [Y], [s]),
     "string_initializer.onnx")
sp = helper.make_sparse_tensor(numpy_helper.from_array(np.array([1.0], np.float32), "sp"),
                               numpy_helper.from_array(np.array([0], np.int64), "sp_idx"), [4])
save(model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [X], [Y],
           sparse_initializer=[sp]), "sparse_initializer.onnx")
# BatchNormalization in training mode whose running-mean output is used: not inference.
bn_inits = [numpy_helper.from_array(np.ones([4], np.float32), n) for n in ("s", "b", "m", "v")]
save(model([helper.make_node("BatchNormalization", ["x4", "s", "b", "m", "v"],
                             ["y4", "rm", "rv"], name="bn", training_mode=1)],
           [fvi("x4", ["N", 4, 2, 2])], [fvi("y4", ["N", 4, 2, 2]), fvi("rm", [4])], bn_inits,
           opset=15), "bn_stats_used.onnx")

# --- valid models -------------------------------------------------------------------------
# Initializers of every supported dtype, in typed fields and raw_data, plus Constant nodes
# of each value form, an unnamed node, metadata and a symbolic batch dim.
inits = [
    helper.make_tensor("f32_typed", TensorProto.FLOAT, [2], [1.5, -2.25]),
    numpy_helper.from_array(np.array([1.5, -2.25], np.float32), "f32_raw"),
    helper.make_tensor("f64_typed", TensorProto.DOUBLE, [2], [0.1, -3.0]),
    helper.make_tensor("i8_typed", TensorProto.INT8, [3], [-128, 0, 127]),
    numpy_helper.from_array(np.array([-128, 0, 127], np.int8), "i8_raw"),
    helper.make_tensor("u8_typed", TensorProto.UINT8, [2], [0, 255]),
    helper.make_tensor("i16_typed", TensorProto.INT16, [2], [-32768, 32767]),
    helper.make_tensor("i32_typed", TensorProto.INT32, [2], [-7, 2147483647]),
    helper.make_tensor("i64_typed", TensorProto.INT64, [2], [-9223372036854775808, 5]),
    numpy_helper.from_array(np.array([-1, 1 << 40], np.int64), "i64_raw"),
    helper.make_tensor("bool_typed", TensorProto.BOOL, [3], [True, False, True]),
    # float16 1.0 = 0x3C00, -2.0 = 0xC000 (typed field holds the bit patterns)
    helper.make_tensor("f16_typed", TensorProto.FLOAT16, [2], np.array([1.0, -2.0], np.float16)),
    numpy_helper.from_array(np.array([1.0, -2.0], np.float16), "f16_raw"),
    numpy_helper.from_array(np.zeros([2, 3], np.float32), "w"),
]
nodes = [
    helper.make_node("Constant", [], ["c_float"], name="k0", value_float=0.5),
    helper.make_node("Constant", [], ["c_floats"], name="k1", value_floats=[1.0, 2.0]),
    helper.make_node("Constant", [], ["c_int"], name="k2", value_int=-3),
    helper.make_node("Constant", [], ["c_ints"], name="k3", value_ints=[4, 5, 6]),
    helper.make_node("Constant", [], ["c_tensor"], name="k4",
                     value=helper.make_tensor("", TensorProto.INT64, [2, 1], [7, 8])),
    helper.make_node("Relu", ["x"], ["r"]),  # unnamed: the importer names it Relu_5
    helper.make_node("Mul", ["r", "c_float"], ["y"], name="scale"),
]
m = model(nodes, [fvi("x", ["batch", 4])], [fvi("y", ["batch", 4])], inits, doc_string="tiny")
m.doc_string = "dtype test model"
helper.set_model_props(m, {"author": "hq tests", "purpose": "dtypes"})
m.graph.value_info.append(fvi("r", ["batch", 4]))
m.graph.input.append(fvi("w", [2, 3]))  # an initializer listed as input: a constant
m.opset_import.append(helper.make_operatorsetid("com.example.hq", 2))
save(m, "dtypes.onnx")

# x.view(x.size(0), -1) as PyTorch 1.13 exports it at opset 13.
chain = [
    helper.make_node("Shape", ["x"], ["/Shape_output_0"], name="/Shape"),
    helper.make_node("Constant", [], ["/Constant_output_0"], name="/Constant",
                     value=numpy_helper.from_array(np.array(0, np.int64))),
    helper.make_node("Gather", ["/Shape_output_0", "/Constant_output_0"], ["/Gather_output_0"],
                     name="/Gather", axis=0),
    helper.make_node("Constant", [], ["/Constant_1_output_0"], name="/Constant_1",
                     value=numpy_helper.from_array(np.array([0], np.int64))),
    helper.make_node("Unsqueeze", ["/Gather_output_0", "/Constant_1_output_0"],
                     ["/Unsqueeze_output_0"], name="/Unsqueeze"),
    helper.make_node("Constant", [], ["/Constant_2_output_0"], name="/Constant_2",
                     value=numpy_helper.from_array(np.array([-1], np.int64))),
    helper.make_node("Concat", ["/Unsqueeze_output_0", "/Constant_2_output_0"],
                     ["/Concat_output_0"], name="/Concat", axis=0),
    helper.make_node("Reshape", ["x", "/Concat_output_0"], ["y"], name="/Reshape"),
]
save(model(chain, [fvi("x", ["batch", 4, 2, 2])], [fvi("y", ["batch", 16])]),
     "reshape_chain.onnx")
# The same chain gathering dim 1 at position 0: not a copy of dim 0, must stay.
chain_bad = list(chain)
chain_bad[1] = helper.make_node("Constant", [], ["/Constant_output_0"], name="/Constant",
                                value=numpy_helper.from_array(np.array(1, np.int64)))
save(model(chain_bad, [fvi("x", ["batch", 4, 2, 2])], [fvi("y", [4, "rest"])]),
     "reshape_chain_dim1.onnx")

# Identity and Dropout (opset 13, training_mode input, unused mask) to be removed; the graph
# output 'y' is Dropout's output, so Relu must end up producing 'y' itself.
drop = [
    helper.make_node("Identity", ["x"], ["i"], name="id"),
    helper.make_node("Relu", ["i"], ["r"], name="relu"),
    helper.make_node("Constant", [], ["ratio"], name="kr",
                     value=numpy_helper.from_array(np.array(0.5, np.float32))),
    helper.make_node("Constant", [], ["train"], name="kt",
                     value=numpy_helper.from_array(np.array(True))),
    helper.make_node("Dropout", ["r", "ratio", "train"], ["y", "mask"], name="drop"),
]
save(model(drop, [X], [Y]), "identity_dropout.onnx")
# Dropout whose mask is a graph output: must stay.
save(model(drop, [X], [Y, helper.make_tensor_value_info("mask", TensorProto.BOOL, ["N", 4])]),
     "dropout_mask_used.onnx")
print("wrote test models to", HERE)
