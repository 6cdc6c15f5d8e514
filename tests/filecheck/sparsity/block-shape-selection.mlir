// RUN: sparsec opt %s -p "block-shape-selection{block-shapes=1x1,4x1,16x1}" --split-input-file | filecheck %s
// RUN: sparsec opt %s -p "block-shape-selection{block-shapes=1x1,4x1,16x1 min-speedup=4}" --split-input-file \
// RUN:   | filecheck %s --check-prefix=SLOW
// RUN: echo '{"source": "measured", "lanes": 16, "shapes": {"4x1": {"efficiency": 1.0, "block_overhead": 0.0}}}' > %t \
// RUN:   && sparsec opt %s -p "block-shape-selection{block-shapes=1x1,4x1 cost-model=%t dense-above=0.8}" --split-input-file \
// RUN:   | filecheck %s --check-prefix=CALIB

// One nonzero input column, 16 rows: a 16x1 block holds it all, but the analytic
// model charges every BSR kernel 8 multiply-adds per input+output feature whatever
// the sparsity, 8 * (16 + 4) = 160, more than the dense kernel's 16 * 4 = 64: a
// weight this small stays dense. A cost model file measuring 4x1 at dense speed
// with no overhead and no fixed cost makes 4x1 exactly 4x.
// CHECK-LABEL: sym_name = "one_column"
// CHECK: "sparsec.linear"
// CHECK-SAME: sparsec.decision = {block_shape = "dense", predicted_speedup = 1.0 : f64, reason = "cost model (analytic): no shape beats dense by 1.1x"}
// SLOW-LABEL: sym_name = "one_column"
// SLOW: sparsec.decision = {block_shape = "dense", predicted_speedup = 1.0 : f64, reason = "cost model (analytic): no shape beats dense by 4.0x"}
// CALIB-LABEL: sym_name = "one_column"
// CALIB: sparsec.decision = {block_shape = "4x1", predicted_speedup = 4.0 : f64, reason = "cost model (measured)"}
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x16xf32>, sym_name = "one_column"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %0 = "sparsec.constant"() <{value = dense<[[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 3.0, 0.0], [0.0, 0.0, 4.0, 0.0], [0.0, 0.0, 5.0, 0.0], [0.0, 0.0, 6.0, 0.0], [0.0, 0.0, 7.0, 0.0], [0.0, 0.0, 8.0, 0.0], [0.0, 0.0, 9.0, 0.0], [0.0, 0.0, 10.0, 0.0], [0.0, 0.0, 11.0, 0.0], [0.0, 0.0, 12.0, 0.0], [0.0, 0.0, 13.0, 0.0], [0.0, 0.0, 14.0, 0.0], [0.0, 0.0, 15.0, 0.0], [0.0, 0.0, 16.0, 0.0]]> : tensor<16x4xf32>}> : () -> tensor<16x4xf32>
  %1 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<16x4xf32>) -> tensor<2x16xf32>
  "func.return"(%1) : (tensor<2x16xf32>) -> ()
}) : () -> ()

// -----

// A weight 75 % dense stays dense under the default dense-above=0.5 whatever the
// model says; with dense-above=0.8 the measured model picks 4x1 (16 / 12 = 1.333x).
// CHECK-LABEL: sym_name = "mostly_dense"
// CHECK: sparsec.decision = {block_shape = "dense", predicted_speedup = 1.0 : f64, reason = "density 0.75 > dense-above 0.5"}
// CHECK-SAME: sparsec.sparsity = {blocks = {"16x1" =
// SLOW-LABEL: sym_name = "mostly_dense"
// SLOW: reason = "density 0.75 > dense-above 0.5"
// CALIB-LABEL: sym_name = "mostly_dense"
// CALIB: sparsec.decision = {block_shape = "4x1", predicted_speedup = 1.333 : f64, reason = "cost model (measured)"}
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "mostly_dense"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %0 = "sparsec.constant"() <{value = dense<[[1.0, 2.0, 3.0, 0.0], [4.0, 5.0, 6.0, 0.0], [7.0, 8.0, 9.0, 0.0], [1.0, 2.0, 3.0, 0.0]]> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %1 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  "func.return"(%1) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// An all-zero weight stores no block at all. The analytic model still charges the
// fixed cost (8 * (8 + 4) = 96 > 32 for dense), so it stays dense; a model with no
// fixed cost finds it infinitely faster, and ties go to the largest candidate block
// (fewest block rows to walk).
// CHECK-LABEL: sym_name = "all_zero"
// CHECK: sparsec.decision = {block_shape = "dense", predicted_speedup = 1.0 : f64, reason = "cost model (analytic): no shape beats dense by 1.1x"}
// SLOW-LABEL: sym_name = "all_zero"
// SLOW: block_shape = "dense"
// CALIB-LABEL: sym_name = "all_zero"
// CALIB: block_shape = "4x1"
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x8xf32>, sym_name = "all_zero"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %0 = "sparsec.constant"() <{value = dense<0.0> : tensor<8x4xf32>}> : () -> tensor<8x4xf32>
  %1 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
  "func.return"(%1) : (tensor<2x8xf32>) -> ()
}) : () -> ()

// -----

// A weight that is not a constant gets no decision.
// CHECK-LABEL: sym_name = "weight_argument"
// CHECK-NOT: sparsec.decision
// CHECK: "func.return"
// SLOW-LABEL: sym_name = "weight_argument"
// CALIB-LABEL: sym_name = "weight_argument"
"func.func"() <{function_type = (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>, sym_name = "weight_argument"}> ({
^bb0(%arg0: tensor<2x4xf32>, %arg1: tensor<3x4xf32>):
  %0 = "sparsec.linear"(%arg0, %arg1) : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()
