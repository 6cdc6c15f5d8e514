// RUN: sparsec opt %s --split-input-file | filecheck %s
// Run-time sizes: `dim` reads one, and every op that makes a `?` dimension takes its size as an
// index operand (a -1 in its shape property), as MLIR's tensor ops do. The IR prints back as
// it was read.

// CHECK-LABEL: sym_name = "heads"
// CHECK: %[[B:.*]] = "sparsec.dim"(%arg0) <{axis = 0}> : (tensor<?x?x64xf32>) -> index
// CHECK-NEXT: %[[S:.*]] = "sparsec.dim"(%arg0) <{axis = 1}> : (tensor<?x?x64xf32>) -> index
// CHECK-NEXT: "sparsec.reshape"(%arg0, %[[B]], %[[S]]) <{shape = array<i64: -1, -1, 2, 32>}> : (tensor<?x?x64xf32>, index, index) -> tensor<?x?x2x32xf32>
"func.func"() <{function_type = (tensor<?x?x64xf32>) -> tensor<?x?x2x32xf32>, sym_name = "heads"}> ({
^bb0(%arg0: tensor<?x?x64xf32>):
  %0 = "sparsec.dim"(%arg0) <{axis = 0}> : (tensor<?x?x64xf32>) -> index
  %1 = "sparsec.dim"(%arg0) <{axis = 1}> : (tensor<?x?x64xf32>) -> index
  %2 = "sparsec.reshape"(%arg0, %0, %1) <{shape = array<i64: -1, -1, 2, 32>}> : (tensor<?x?x64xf32>, index, index) -> tensor<?x?x2x32xf32>
  "func.return"(%2) : (tensor<?x?x2x32xf32>) -> ()
}) : () -> ()

// -----

// The padding mask of a batch of sequences, as transformers builds it: positions, a gather of
// the [batch, seq] mask by (batch, key) index tensors, a broadcast to [batch, 1, seq, seq].
// CHECK-LABEL: sym_name = "mask"
// CHECK: "sparsec.arange"(%{{.*}}) : (index) -> tensor<?xi64>
// CHECK: "sparsec.index"(%arg0, %{{.*}}, %{{.*}}) : (tensor<?x?xi1>, tensor<?x1x1x1xi64>, tensor<1x1x1x?xi64>) -> tensor<?x1x1x?xi1>
// CHECK: "sparsec.broadcast_to"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{shape = array<i64: -1, 1, -1, -1>}> : (tensor<?x1x1x?xi1>, index, index, index) -> tensor<?x1x?x?xi1>
"func.func"() <{function_type = (tensor<?x?xi1>) -> tensor<?x1x?x?xi1>, sym_name = "mask"}> ({
^bb0(%arg0: tensor<?x?xi1>):
  %0 = "sparsec.dim"(%arg0) <{axis = 0}> : (tensor<?x?xi1>) -> index
  %1 = "sparsec.dim"(%arg0) <{axis = 1}> : (tensor<?x?xi1>) -> index
  %2 = "sparsec.arange"(%0) : (index) -> tensor<?xi64>
  %3 = "sparsec.reshape"(%2, %0) <{shape = array<i64: -1, 1, 1, 1>}> : (tensor<?xi64>, index) -> tensor<?x1x1x1xi64>
  %4 = "sparsec.arange"(%1) : (index) -> tensor<?xi64>
  %5 = "sparsec.reshape"(%4, %1) <{shape = array<i64: 1, 1, 1, -1>}> : (tensor<?xi64>, index) -> tensor<1x1x1x?xi64>
  %6 = "sparsec.index"(%arg0, %3, %5) : (tensor<?x?xi1>, tensor<?x1x1x1xi64>, tensor<1x1x1x?xi64>) -> tensor<?x1x1x?xi1>
  %7 = "sparsec.broadcast_to"(%6, %0, %1, %1) <{shape = array<i64: -1, 1, -1, -1>}> : (tensor<?x1x1x?xi1>, index, index, index) -> tensor<?x1x?x?xi1>
  "func.return"(%7) : (tensor<?x1x?x?xi1>) -> ()
}) : () -> ()

// -----

// Position ids: the first `seq` entries of a buffer; the end is a run-time size.
// CHECK-LABEL: sym_name = "positions"
// CHECK: "sparsec.slice"(%{{.*}}, %{{.*}}) <{axis = 1, end = -1, start = 0, step = 1}> : (tensor<1x512xi64>, index) -> tensor<1x?xi64>
"func.func"() <{function_type = (tensor<?x?xi64>) -> tensor<1x?xi64>, sym_name = "positions"}> ({
^bb0(%arg0: tensor<?x?xi64>):
  %0 = "sparsec.dim"(%arg0) <{axis = 1}> : (tensor<?x?xi64>) -> index
  %1 = "sparsec.constant"() <{value = dense<1> : tensor<1x512xi64>}> : () -> tensor<1x512xi64>
  %2 = "sparsec.slice"(%1, %0) <{axis = 1, end = -1, start = 0, step = 1}> : (tensor<1x512xi64>, index) -> tensor<1x?xi64>
  "func.return"(%2) : (tensor<1x?xi64>) -> ()
}) : () -> ()

// -----

// A function names the run-time sizes of its inputs (the same name is the same size) and gives
// each name its range.
// CHECK-LABEL: sym_name = "named_sizes"
// CHECK: sparsec.dim_ranges = {batch = array<i64: 1, 32>, seq = array<i64: 1, 512>}
"func.func"() <{arg_attrs = [{sparsec.dims = ["batch", "seq"], sparsec.name = "input_ids"}, {sparsec.dims = ["batch", "seq"], sparsec.name = "attention_mask"}], function_type = (tensor<?x?xi64>, tensor<?x?xi64>) -> tensor<?x?xi64>, sym_name = "named_sizes"}> ({
^bb0(%arg0: tensor<?x?xi64>, %arg1: tensor<?x?xi64>):
  %0 = "sparsec.add"(%arg0, %arg1) : (tensor<?x?xi64>, tensor<?x?xi64>) -> tensor<?x?xi64>
  "func.return"(%0) : (tensor<?x?xi64>) -> ()
}) {sparsec.dim_ranges = {batch = array<i64: 1, 32>, seq = array<i64: 1, 512>}} : () -> ()
