// RUN: sparsec opt %s -p "sparsity-analysis{block-shapes=1x1,2x1,1x2,2x2,3x1,4x4}" --split-input-file | filecheck %s

// Two 2x2 blocks, one full and one with a single nonzero: each shape counts its
// stored blocks exactly; fill is nonzeros over stored elements; the weight keeps its name.
// CHECK-LABEL: sym_name = "two_blocks"
// CHECK: "sparsec.linear"
// CHECK-SAME: sparsec.sparsity = {blocks = {
// CHECK-SAME: "1x1" = {block_density = 0.3125 : f64, fill = 1.0 : f64, nnzb = 5},
// CHECK-SAME: "1x2" = {block_density = 0.375 : f64, fill = 0.833333 : f64, nnzb = 3},
// CHECK-SAME: "2x1" = {block_density = 0.375 : f64, fill = 0.833333 : f64, nnzb = 3},
// CHECK-SAME: "2x2" = {block_density = 0.5 : f64, fill = 0.625 : f64, nnzb = 2},
// CHECK-SAME: "3x1" = {block_density = 0.375 : f64, fill = 0.555556 : f64, nnzb = 3},
// CHECK-SAME: "4x4" = {block_density = 1.0 : f64, fill = 0.3125 : f64, nnzb = 1}},
// CHECK-SAME: density = 0.3125 : f64, nnz = 5, weight = "fc.weight", zero_cols = 1, zero_heads = array<i64>, zero_rows = 1}
"builtin.module"() ({
  "func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "two_blocks"}> ({
  ^bb0(%arg0: tensor<2x4xf32>):
    %0 = "sparsec.constant"() <{value = dense_resource<fc.weight> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
    %1 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    "func.return"(%1) : (tensor<2x4xf32>) -> ()
  }) : () -> ()
}) : () -> ()
{-#
  dialect_resources: {
    builtin: {
      fc.weight: "0x040000000000803F000000400000000000000000000040400000804000000000000000000000000000000000000000000000000000000000000000000000A04000000000"
    }
  }
#-}

// -----

// 3x1 does not divide 4 rows: the second block row is padded with two zero rows, so
// its stored block is 1/3 full and the fill (4 nonzeros / 9 stored elements) shows it.
// CHECK-LABEL: sym_name = "padded_blocks"
// CHECK: "sparsec.linear"
// CHECK-SAME: "2x1" = {block_density = 0.25 : f64, fill = 1.0 : f64, nnzb = 2}
// CHECK-SAME: "3x1" = {block_density = 0.375 : f64, fill = 0.444444 : f64, nnzb = 3}
// CHECK-SAME: "4x4" = {block_density = 1.0 : f64, fill = 0.25 : f64, nnzb = 1}
// CHECK-SAME: density = 0.25 : f64, nnz = 4, weight = "<inline>"
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "padded_blocks"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %0 = "sparsec.constant"() <{value = dense<[[1.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 3.0], [0.0, 0.0, 0.0, 4.0]]> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %1 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  "func.return"(%1) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// An all-zero weight: nothing is stored for any shape, every row and column is zero.
// CHECK-LABEL: sym_name = "all_zero"
// CHECK: "sparsec.linear"
// CHECK-SAME: "1x1" = {block_density = 0.0 : f64, fill = 1.0 : f64, nnzb = 0}
// CHECK-SAME: "4x4" = {block_density = 0.0 : f64, fill = 1.0 : f64, nnzb = 0}
// CHECK-SAME: density = 0.0 : f64, nnz = 0, weight = "<inline>", zero_cols = 4, zero_heads = array<i64>, zero_rows = 6}
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x6xf32>, sym_name = "all_zero"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %0 = "sparsec.constant"() <{value = dense<0.0> : tensor<6x4xf32>}> : () -> tensor<6x4xf32>
  %1 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<6x4xf32>) -> tensor<2x6xf32>
  "func.return"(%1) : (tensor<2x6xf32>) -> ()
}) : () -> ()

// -----

// Zero output rows (1 and 3) and zero input columns (0 and 2) are counted.
// CHECK-LABEL: sym_name = "zero_rows_and_cols"
// CHECK: "sparsec.linear"
// CHECK-SAME: density = 0.25 : f64, nnz = 4, weight = "<inline>", zero_cols = 2, zero_heads = array<i64>, zero_rows = 2}
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "zero_rows_and_cols"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %0 = "sparsec.constant"() <{value = dense<[[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0], [0.0, 3.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0]]> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %1 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  "func.return"(%1) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// A q/k/v-style linear whose output is split into [batch, seq, heads=3, head_size=2]:
// head 1 (weight rows 2-3) is all zero, so it is a pruned head.
// CHECK-LABEL: sym_name = "pruned_head_rows"
// CHECK: "sparsec.linear"
// CHECK-SAME: zero_heads = array<i64: 1>, zero_rows = 2}
"func.func"() <{function_type = (tensor<1x2x4xf32>) -> tensor<1x2x3x2xf32>, sym_name = "pruned_head_rows"}> ({
^bb0(%arg0: tensor<1x2x4xf32>):
  %0 = "sparsec.constant"() <{value = dense<[[1.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 4.0]]> : tensor<6x4xf32>}> : () -> tensor<6x4xf32>
  %1 = "sparsec.linear"(%arg0, %0) : (tensor<1x2x4xf32>, tensor<6x4xf32>) -> tensor<1x2x6xf32>
  %2 = "sparsec.reshape"(%1) <{shape = array<i64: 1, 2, 3, 2>}> : (tensor<1x2x6xf32>) -> tensor<1x2x3x2xf32>
  "func.return"(%2) : (tensor<1x2x3x2xf32>) -> ()
}) : () -> ()

// -----

// An output projection reading merged heads [.., heads=2, head_size=3] -> [.., 6]:
// head 0 (weight columns 0-2) is all zero; rows are not head slices here.
// CHECK-LABEL: sym_name = "pruned_head_cols"
// CHECK: "sparsec.linear"
// CHECK-SAME: zero_cols = 3, zero_heads = array<i64: 0>, zero_rows = 0}
"func.func"() <{function_type = (tensor<1x2x2x3xf32>) -> tensor<1x2x2xf32>, sym_name = "pruned_head_cols"}> ({
^bb0(%arg0: tensor<1x2x2x3xf32>):
  %0 = "sparsec.reshape"(%arg0) <{shape = array<i64: 1, 2, 6>}> : (tensor<1x2x2x3xf32>) -> tensor<1x2x6xf32>
  %1 = "sparsec.constant"() <{value = dense<[[0.0, 0.0, 0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0, 3.0, 0.0]]> : tensor<2x6xf32>}> : () -> tensor<2x6xf32>
  %2 = "sparsec.linear"(%0, %1) : (tensor<1x2x6xf32>, tensor<2x6xf32>) -> tensor<1x2x2xf32>
  "func.return"(%2) : (tensor<1x2x2xf32>) -> ()
}) : () -> ()

// -----

// A weight that is not a constant (a function argument) cannot be analysed: no attribute.
// CHECK-LABEL: sym_name = "weight_argument"
// CHECK: "sparsec.linear"(%arg0, %arg1) : (
"func.func"() <{function_type = (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>, sym_name = "weight_argument"}> ({
^bb0(%arg0: tensor<2x4xf32>, %arg1: tensor<3x4xf32>):
  %0 = "sparsec.linear"(%arg0, %arg1) : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()
